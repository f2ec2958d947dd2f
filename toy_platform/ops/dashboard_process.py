"""The dashboard's process: Streamlit, run here so it also watches its supervisor.

`python -m toy_platform.ops.dashboard_process run app.py ...` is `python -m streamlit run
app.py ...`, except that, started by `toy-platform serve`, it exits when serve is gone.
"""

from __future__ import annotations

import sys

from toy_platform.lifeline import supervisor_pid_from_env, watch_supervisor


def main() -> None:
    watch_supervisor(supervisor_pid_from_env())
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
