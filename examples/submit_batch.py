"""Log in, submit a batch of jobs with the Python client, and print each result.

python examples/submit_batch.py --username admin --password "$PASSWORD" hello world 👋🏽
"""

from __future__ import annotations

import argparse
import getpass
import sys

from toy_platform.client import PlatformClient, PlatformError
from toy_platform.console import tolerant_console


def main() -> int:
    tolerant_console()  # job results may hold characters the console cannot show
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="*", default=["hello", "toy platform", "e\u0301t\u00e9 🇫🇷"])
    parser.add_argument("--auth-url", default="http://127.0.0.1:6300")
    parser.add_argument("--middleware-url", default="http://127.0.0.1:6302")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", help="prompted for when not given")
    args = parser.parse_args()

    client = PlatformClient(args.auth_url, args.middleware_url)
    try:
        client.login(args.username, args.password or getpass.getpass())
        jobs = [client.submit_job(f"example-{n}", text) for n, text in enumerate(args.texts)]
        print(f"submitted {len(jobs)} jobs; waiting for them to finish...")
        for job in jobs:
            done = client.wait_for_job(job["job_id"], timeout=300)
            outcome = done["result"] if done["status"] == "succeeded" else done["error"]
            print(f"{done['job_name']:<12} {done['status']:<10} {outcome}")
    except PlatformError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
