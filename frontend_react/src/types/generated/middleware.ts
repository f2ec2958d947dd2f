/**
 * Generated from toy_platform/openapi/middleware.json by `npm run gen:api`
 * (openapi-typescript 7.13.0). Do not edit: change the OpenAPI document
 * and run `npm run gen:api` again.
 */

export interface paths {
    "/job_submit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Submit a job. */
        post: operations["submitJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/list_jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List jobs, newest first: your own, or everyone's for an admin. */
        get: operations["listJobs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One job, with its history. */
        get: operations["getJob"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a failed job again, as a new attempt. */
        post: operations["retryJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/job_callback/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The core reports a job's progress (service-to-service only).
         * @description Applied only if `attempt` is the job's current attempt and the status is a step forward; otherwise answered 200 with `changed: false`. Answers 404 when the job is unknown (e.g. after a reset): the core then drops the callback.
         */
        post: operations["jobCallback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Admin: forget every job and purge the core's queue. */
        post: operations["reset"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/platform_status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every service's health and the job figures, as the middleware sees them. */
        get: operations["platformStatus"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: is the process up? */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: can it do its work now (its dependencies answer)? */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics, in the text exposition format. */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document. */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/_chaos/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Chaos testing: stop answering (and working) for a while.
         * @description Service-to-service only (`toy-platform chaos pause`). For `seconds`, every request hangs before it is handled (and the core's workers stop), as a hung process would; the process stays alive.
         */
        post: operations["chaosPause"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/job_callbacks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The core reports several jobs' progress in one call (service-to-service only).
         * @description How the core catches up under load. Each item is a /job_callback body plus its job_id and attempt, and gets its own outcome: applied, unchanged (not a step forward, or an old attempt) or not_found (the core then drops it).
         */
        post: operations["jobCallbacks"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/jobs/{job_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a job: a queued one never starts; a running one is stopped (cooperatively, then by force). */
        post: operations["cancelJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/job_types": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The job types a submit may name, with their input schemas and whether a running worker offers each. */
        get: operations["listJobTypes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        JobSubmit: {
            /** @description A name for humans; not only whitespace. */
            job_name: string;
            /** @description The input: any JSON value the job type's `input_schema` accepts (for `reverse`: a non-empty string), else 422 `invalid_data` with the JSON path of the first error. At most --max-data-bytes (default 1 MiB) as compact JSON in UTF-8 (a string counts its two quotes), else 413. */
            data: unknown;
            /**
             * @description The job type to run (see `GET /job_types`); unknown: 422 `unknown_job_type`.
             * @default reverse
             */
            job_type: string;
        };
        JobSubmitted: {
            job_id: string;
            /** @enum {string} */
            status: "queued" | "running" | "succeeded" | "failed";
            job: components["schemas"]["Job"];
        };
        /**
         * @description `cancelled`: a cancel was asked and the job stopped (or never started).
         * @enum {string}
         */
        JobStatus: "queued" | "running" | "succeeded" | "failed" | "cancelled";
        /** @description A job. `events` (its history) is only in `GET /jobs/{job_id}`. `status` only moves forward: queued -> running -> succeeded | failed | cancelled; a retry makes a failed job queued again with `attempt` + 1. */
        Job: {
            job_id: string;
            job_name: string;
            /** @description The username that submitted it. */
            owner: string;
            status: components["schemas"]["JobStatus"];
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            started_at: string | null;
            /** Format: date-time */
            completed_at: string | null;
            /** @description The output once succeeded: any JSON value the job type returned (a string for `reverse`); null before. */
            result: unknown;
            /** @description Why it failed, once failed. */
            error: string | null;
            /** @description The X-Request-ID it was submitted with. */
            request_id: string | null;
            attempt: number;
            events?: components["schemas"]["JobEvent"][];
            /** @description What runs it (see `GET /job_types`); `reverse` unless the submit named another. */
            job_type: string;
            /** @description What the running job last said of its progress; null when it said nothing. */
            progress: {
                fraction: number;
                message: string;
            } | null;
            /** @description A cancel was asked while it ran: it becomes `cancelled` once its handler stopped (within seconds, even if the handler does not look). */
            cancel_requested: boolean;
            /** @description In `GET /jobs/{job_id}` and `GET /list_jobs`, on a queued job of a type no running worker offers: why it waits (it runs once a worker offering its type is online). */
            waiting_reason?: string | null;
        };
        /** @description One step in a job's history. */
        JobEvent: {
            /** Format: date-time */
            at: string;
            /**
             * @description submitted, forwarded, forwarded_again (core had lost it), retry_requested, cancel_requested, cancelled (of a job that had not started), and failed when core refuses or lost a job (by the middleware); queued, running, attempt_failed (a try failed and is retried: the detail has the error and the wait), timeout (a try ran past its type's timeout_s), succeeded, failed, cancelled, and reports_held_up (core holds the job but its reports cannot reach the middleware: the detail says why) (by the core).
             * @enum {string}
             */
            status: "submitted" | "forwarded" | "forwarded_again" | "reports_held_up" | "retry_requested" | "queued" | "running" | "succeeded" | "failed" | "cancel_requested" | "cancelled" | "timeout" | "attempt_failed";
            /** @enum {string} */
            service: "middleware" | "core";
            detail: string | null;
        };
        /** @description A job with its history. */
        JobDetail: components["schemas"]["Job"] & {
            /** @description The job's history, oldest first. */
            events: components["schemas"]["JobEvent"][];
        };
        JobPage: {
            /** @description Newest first. */
            jobs: components["schemas"]["Job"][];
            /** @description Jobs matching the filter, over all pages. */
            total: number;
            limit: number;
            offset: number;
            /** @description The cursor of the next (older) page, for `before=`; null when this page is the last. */
            next_before: string | null;
        };
        JobCallback: {
            /** @enum {string} */
            status: "running" | "succeeded" | "failed" | "cancelled";
            /**
             * Format: date-time
             * @description An RFC 3339 date-time that is a real date (no leap second), e.g. `2026-01-01T00:00:00.000+00:00`.
             */
            started_at?: string | null;
            /**
             * Format: date-time
             * @description An RFC 3339 date-time that is a real date (no leap second), e.g. `2026-01-01T00:00:00.000+00:00`.
             */
            completed_at?: string | null;
            /** @description The job type's output (any JSON value). */
            result?: unknown;
            error?: string | null;
            /** @description How many times the core has tried to deliver this callback (a whole number: 2 and 2.0 alike). */
            delivery_attempt?: number;
            /** @description The request ID of the call this is about. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$` (the X-Request-ID rule); any other string is replaced by this request's ID, and the replacement logged. Null or absent: this request's ID. Anything but a string or null is refused (400 naming the field). */
            request_id?: string | null;
            /** @description The Celery worker (name@host) that ran the job, with --queue-url redis://...; the job's history names it. */
            worker?: string | null;
            /** @description Which start of this run of the job the report is from: above 1, a worker stopped mid-job before (the job's history says so, and its start time is this run's). */
            run?: number;
            /** @description What the running job last said of its progress; null when it said nothing. */
            progress?: {
                fraction: number;
                message: string;
            } | null;
            /** @description History lines of the run that change no status: a try that failed and is retried, a try past its time limit. */
            events?: {
                /** @enum {string} */
                status: "attempt_failed" | "timeout";
                detail: string;
            }[];
        };
        JobCallbackResult: {
            job_id: string;
            status: components["schemas"]["JobStatus"];
            /** @description False when the callback was stale (an older attempt, or not a step forward) and the job was left as it was. */
            changed: boolean;
            /** @description A cancel was asked for this job: whoever runs it stops it. */
            cancel_requested?: boolean;
        };
        ResetResult: {
            /** @constant */
            reset: true;
            jobs_removed: number;
            core_purged: boolean;
            /** @description Why the core's queue was not purged. */
            core_error: string | null;
        };
        /** @description One service as the middleware sees it. restarts/last_exit_* come from `toy-platform serve` and are null when it does not supervise the service. */
        ComponentStatus: {
            /** @description /healthz answers 2xx. */
            up: boolean;
            /** @description /readyz answers 200. */
            ready: boolean;
            reason: string | null;
            latency_ms: number | null;
            version: string | null;
            uptime_s: number | null;
            /** Format: uri */
            url: string;
            restarts: number | null;
            last_exit_code: number | null;
            last_exit_at: string | null;
        };
        PlatformStatus: {
            components: {
                auth: components["schemas"]["ComponentStatus"];
                middleware: components["schemas"]["ComponentStatus"];
                core: components["schemas"]["ComponentStatus"];
            };
            all_ready: boolean;
            /** @description The core's queue; null when it is down. */
            queue_size: number | null;
            oldest_queued_age_s: number | null;
            /** @description Jobs by status; null while the job store cannot be read (the middleware's reason names it). */
            jobs_by_status: {
                queued: number;
                running: number;
                succeeded: number;
                failed: number;
                cancelled: number;
            } | null;
            /** @description Jobs stored but not yet accepted by the core. */
            jobs_waiting_for_core: number | null;
            callbacks_pending: number | null;
            /** Format: date-time */
            checked_at: string;
            /** @description Callbacks at core that failed and wait to be retried; null when core does not answer. */
            callbacks_waiting_retry?: number | null;
            /** @description The Celery workers core has seen (--queue-url redis://...); null with the embedded queue or when core does not answer. */
            workers?: components["schemas"]["Worker"][] | null;
        };
        /**
         * @description The one error shape of every service, for every error status (404 and 405 on unknown routes and methods, and unexpected 500s, included). Some errors add fields, e.g. `retry_after` on 429.
         * @example {
         *       "error": "'job_name' is required",
         *       "code": "invalid_field",
         *       "field": "job_name"
         *     }
         */
        Error: {
            /** @description A message for humans. */
            error: string;
            /** @description A stable, machine-readable code. Known codes: invalid_json, invalid_field, invalid_header, unauthorized, invalid_credentials, invalid_token, token_expired, forbidden, not_found, not_failed, too_large, too_many_attempts, idempotency_key_reused, unknown_job_type, invalid_data, not_cancellable, auth_unavailable, method_not_allowed, internal_error. */
            code: string;
            /** @description The request field, parameter or header at fault, if one is. */
            field?: string;
            /** @description Seconds to wait before trying again (429 only). */
            retry_after?: number;
            /** @description The job an Idempotency-Key already belongs to (422 only). */
            job_id?: string;
            /** @description The JSON path of the first error in `data` (422 invalid_data only). */
            path?: string;
        } & {
            [key: string]: unknown;
        };
        /** @description Liveness: the process answers. Says nothing about its dependencies. */
        Health: {
            /** @constant */
            status: "ok";
            /** @enum {string} */
            service: "auth" | "core" | "middleware";
            version: string;
            uptime_s: number;
            /** @description A short hash of the shared service key, to check that all services use the same key without showing it. */
            service_key_fingerprint: string;
            /** @description The ID `toy-platform serve` gave this process; null when run alone. */
            instance_id?: string | null;
            /** @description This process's ID: what `toy-platform serve` watches and stops, also where a launcher (a Windows venv's python.exe) started it. */
            pid?: number;
            /** @description The CPUs this process's threads may run on (`--cpu`: under `toy-platform serve` the middleware and core each keep theirs on one); null where the OS cannot tell (macOS). */
            cpus?: number[] | null;
        };
        /** @description Readiness: whether the service can do its work now, and if not why. */
        Ready: {
            /** @enum {string} */
            status: "ready" | "not_ready";
            ready: boolean;
            /** @enum {string} */
            service: "auth" | "core" | "middleware";
            /** @description Why it is not ready; null when ready. */
            reason: string | null;
            /** @description Seconds the service's own work has had items waiting with nothing moving, once that reaches the stall threshold (--stall-after): then ready is false and reason says what is stuck and why. Null otherwise, and while the work only waits for a dependency that is down (reason names it). */
            stalled_s: number | null;
        };
        ChaosPause: {
            seconds: number;
        };
        ChaosPaused: {
            paused_s: number;
        };
        JobCallbackBatch: {
            callbacks: {
                /** @enum {string} */
                status: "running" | "succeeded" | "failed" | "cancelled";
                /**
                 * Format: date-time
                 * @description An RFC 3339 date-time that is a real date (no leap second), e.g. `2026-01-01T00:00:00.000+00:00`.
                 */
                started_at?: string | null;
                /**
                 * Format: date-time
                 * @description An RFC 3339 date-time that is a real date (no leap second), e.g. `2026-01-01T00:00:00.000+00:00`.
                 */
                completed_at?: string | null;
                /** @description The job type's output (any JSON value). */
                result?: unknown;
                error?: string | null;
                /** @description How many times the core has tried to deliver this callback (a whole number: 2 and 2.0 alike). */
                delivery_attempt?: number;
                job_id: string;
                /**
                 * @description The job attempt this callback is about.
                 * @default 1
                 */
                attempt: number;
                /** @description The request ID of the call this is about. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$` (the X-Request-ID rule); any other string is replaced by this request's ID, and the replacement logged. Null or absent: this request's ID. Anything but a string or null is refused (400 naming the field). */
                request_id?: string | null;
                /** @description The Celery worker (name@host) that ran the job, with --queue-url redis://...; the job's history names it. */
                worker?: string | null;
                /** @description Which start of this run of the job the report is from: above 1, a worker stopped mid-job before (the job's history says so, and its start time is this run's). */
                run?: number;
                /** @description What the running job last said of its progress; null when it said nothing. */
                progress?: {
                    fraction: number;
                    message: string;
                } | null;
                /** @description History lines of the run that change no status: a try that failed and is retried, a try past its time limit. */
                events?: {
                    /** @enum {string} */
                    status: "attempt_failed" | "timeout";
                    detail: string;
                }[];
            }[];
        };
        JobCallbackBatchResult: {
            results: {
                job_id: string;
                /** @enum {unknown} */
                outcome: "applied" | "unchanged" | "not_found";
                /** @description A cancel was asked for this job: whoever runs it stops it. */
                cancel_requested?: boolean;
            }[];
        };
        /** @description A Celery worker core has seen (with --queue-url redis://...). */
        Worker: {
            /** @description Its node name, name@host. */
            hostname: string;
            /** @description Jobs it runs at once (its pool's size). */
            concurrency: number | null;
            /** @description Jobs it is running now. */
            active: number | null;
            /**
             * Format: date-time
             * @description When it last answered core's broadcast (every 2 s).
             */
            last_seen: string;
            /** @description It answered the latest broadcast. */
            online: boolean;
        };
        JobType: {
            name: string;
            title: string;
            /** @description A JSON Schema (Draft 2020-12) that `data` must match. */
            input_schema: {
                [key: string]: unknown;
            } | boolean;
            /** @description A try running longer is stopped and fails (`timeout` on its timeline). */
            timeout_s: number;
            /** @description How many times a try that raised is tried again, with exponential back-off. */
            max_retries: number;
            /** @description Whether a running worker offers it now; jobs of a type none offers wait, queued. */
            available: boolean;
            /** @description Why it is not available (null when it is). */
            reason: string | null;
            /** @description The workers that offer it (core, or each Celery worker's name). */
            offered_by: string[];
        };
        JobTypes: {
            job_types: components["schemas"]["JobType"][];
            /**
             * Format: date-time
             * @description When core last said which types its workers offer (null: never).
             */
            checked_at?: string | null;
        };
    };
    responses: never;
    parameters: {
        /**
         * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
         * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
         */
        XRequestID: string;
    };
    requestBodies: never;
    headers: {
        /** @description The request's ID: the caller's X-Request-ID when it matches `^[A-Za-z0-9._:-]{1,64}$`, else a new one. Passed on to every downstream call and written in every log line. */
        XRequestID: string;
        /** @description Seconds to wait before trying again. */
        RetryAfter: number;
        /** @description `Bearer` when no bearer token was sent. */
        WWWAuthenticate: string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    submitJob: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
                /**
                 * @description Makes retrying the submit safe: the same key from the same user within 24 h gets the first job back instead of a new one.
                 * @example b7e4c8a2-submit-1
                 */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "job_name": "greeting",
                 *       "data": "hello"
                 *     }
                 */
                "application/json": components["schemas"]["JobSubmit"];
            };
        };
        responses: {
            /** @description Stored and accepted; it goes to the core's queue (even if the core is down now). An `Idempotency-Key` already used by this user in the last 24 h answers the original job again, with `Idempotent-Replayed: true`. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description `true` when this is the original job, replayed. */
                    "Idempotent-Replayed"?: "true";
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *       "status": "queued",
                     *       "job": {
                     *         "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *         "job_name": "greeting",
                     *         "owner": "alice",
                     *         "status": "queued",
                     *         "created_at": "2026-11-28T04:33:45.123+00:00",
                     *         "started_at": null,
                     *         "completed_at": null,
                     *         "result": null,
                     *         "error": null,
                     *         "request_id": "3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b",
                     *         "attempt": 1,
                     *         "job_type": "reverse",
                     *         "progress": null,
                     *         "cancel_requested": false
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["JobSubmitted"];
                };
            };
            /** @description The body is not a JSON object, a field is missing or invalid, or the Idempotency-Key is too long. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description `data` is larger than --max-data-bytes, or the whole body is larger than 6 x --max-data-bytes + 64 KiB (checked before anything else): code too_large and field `data` either way. */
            413: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Nothing is stored. `unknown_job_type`: no worker offers or offered that `job_type` (field `job_type`). `invalid_data`: `data` does not match the type's `input_schema` (field `data`; `path` is the JSON path of the first error, `$` for the whole value). `idempotency_key_reused`: the Idempotency-Key was already used by this user in the last 24 h for a job with a different `job_name`, `job_type` or `data`; use a new key for a new job. */
            422: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listJobs: {
        parameters: {
            query?: {
                /** @description Only jobs in this status (leave it out for any). Given at most once; an empty or repeated value is refused (400 naming it). */
                status?: "queued" | "running" | "succeeded" | "failed" | "cancelled";
                /** @description Given at most once; an empty or repeated value is refused (400 naming it). */
                limit?: number;
                /** @description Given at most once; an empty or repeated value is refused (400 naming it). */
                offset?: number;
                /** @description Keyset paging: only jobs older than this cursor, the `next_before` of the previous page. Unlike a deep `offset`, a page read with it costs the same however far back it is. */
                before?: number;
                /** @description `mine`, or `all` (admins only). Given at most once; an empty or repeated value is refused (400 naming it). */
                scope?: "mine" | "all";
            };
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of jobs. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "jobs": [
                     *         {
                     *           "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *           "job_name": "greeting",
                     *           "owner": "alice",
                     *           "status": "succeeded",
                     *           "created_at": "2026-11-28T04:33:45.123+00:00",
                     *           "started_at": "2026-11-28T04:33:45.180+00:00",
                     *           "completed_at": "2026-11-28T04:33:47.185+00:00",
                     *           "result": "olleh",
                     *           "error": null,
                     *           "request_id": "3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b",
                     *           "attempt": 1,
                     *           "job_type": "reverse",
                     *           "progress": null,
                     *           "cancel_requested": false
                     *         }
                     *       ],
                     *       "total": 1,
                     *       "limit": 100,
                     *       "offset": 0,
                     *       "next_before": null
                     *     }
                     */
                    "application/json": components["schemas"]["JobPage"];
                };
            };
            /** @description A query parameter is invalid. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description `scope=all` from a user who is not an admin. */
            403: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getJob: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path: {
                /** @example 6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f */
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *       "job_name": "greeting",
                     *       "owner": "alice",
                     *       "status": "succeeded",
                     *       "created_at": "2026-11-28T04:33:45.123+00:00",
                     *       "started_at": "2026-11-28T04:33:45.180+00:00",
                     *       "completed_at": "2026-11-28T04:33:47.185+00:00",
                     *       "result": "olleh",
                     *       "error": null,
                     *       "request_id": "3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b",
                     *       "attempt": 1,
                     *       "events": [
                     *         {
                     *           "at": "2026-11-28T04:33:45.123+00:00",
                     *           "status": "submitted",
                     *           "service": "middleware",
                     *           "detail": "by alice"
                     *         },
                     *         {
                     *           "at": "2026-11-28T04:33:45.140+00:00",
                     *           "status": "forwarded",
                     *           "service": "middleware",
                     *           "detail": null
                     *         },
                     *         {
                     *           "at": "2026-11-28T04:33:45.141+00:00",
                     *           "status": "queued",
                     *           "service": "core",
                     *           "detail": "position 1"
                     *         },
                     *         {
                     *           "at": "2026-11-28T04:33:45.190+00:00",
                     *           "status": "running",
                     *           "service": "core",
                     *           "detail": null
                     *         },
                     *         {
                     *           "at": "2026-11-28T04:33:47.190+00:00",
                     *           "status": "succeeded",
                     *           "service": "core",
                     *           "detail": null
                     *         }
                     *       ],
                     *       "job_type": "reverse",
                     *       "progress": null,
                     *       "cancel_requested": false
                     *     }
                     */
                    "application/json": components["schemas"]["JobDetail"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such job, or it is someone else's (a non-admin sees only their own jobs). */
            404: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    retryJob: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path: {
                /** @example 6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f */
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Queued again; `attempt` went up by one. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *       "job_name": "greeting",
                     *       "owner": "alice",
                     *       "status": "queued",
                     *       "created_at": "2026-11-28T04:33:45.123+00:00",
                     *       "started_at": null,
                     *       "completed_at": null,
                     *       "result": null,
                     *       "error": null,
                     *       "request_id": "3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b",
                     *       "attempt": 2,
                     *       "job_type": "reverse",
                     *       "progress": null,
                     *       "cancel_requested": false
                     *     }
                     */
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such job, or it is someone else's (a non-admin sees only their own jobs). */
            404: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The job is not failed. */
            409: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    jobCallback: {
        parameters: {
            query?: {
                /** @description The job attempt this callback is about. Given at most once; an empty or repeated value is refused (400 naming it). */
                attempt?: number;
            };
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path: {
                /** @example 6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f */
                job_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "status": "succeeded",
                 *       "started_at": "2026-11-28T04:33:45.180+00:00",
                 *       "result": "olleh",
                 *       "completed_at": "2026-11-28T04:33:47.185+00:00",
                 *       "delivery_attempt": 1
                 *     }
                 */
                "application/json": components["schemas"]["JobCallback"];
            };
        };
        responses: {
            /** @description Received. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *       "status": "succeeded",
                     *       "changed": true
                     *     }
                     */
                    "application/json": components["schemas"]["JobCallbackResult"];
                };
            };
            /** @description The body is not a JSON object, or a field or `attempt` is invalid. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, stale or wrong service signature (X-Toy-Timestamp / X-Toy-Signature). */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such job. */
            404: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than 6 x --max-data-bytes + 64 KiB (checked before anything else, the signature included). */
            413: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The service's own database cannot be used right now (another process holds its lock for longer than a request waits, or the disk is full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    reset: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Reset. `core_purged` is false (with `core_error`) when the core could not be purged; the middleware's jobs are gone either way. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "reset": true,
                     *       "jobs_removed": 12,
                     *       "core_purged": true,
                     *       "core_error": null
                     *     }
                     */
                    "application/json": components["schemas"]["ResetResult"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The caller is not an admin. */
            403: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    platformStatus: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The platform's status (200 even when some service is down). */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "components": {
                     *         "auth": {
                     *           "up": true,
                     *           "ready": true,
                     *           "reason": null,
                     *           "latency_ms": 2.1,
                     *           "version": "0.1.0",
                     *           "uptime_s": 120.5,
                     *           "url": "http://127.0.0.1:6300",
                     *           "restarts": 0,
                     *           "last_exit_code": null,
                     *           "last_exit_at": null
                     *         },
                     *         "middleware": {
                     *           "up": true,
                     *           "ready": true,
                     *           "reason": null,
                     *           "latency_ms": 0,
                     *           "version": "0.1.0",
                     *           "uptime_s": 120.5,
                     *           "url": "http://127.0.0.1:6302",
                     *           "restarts": 0,
                     *           "last_exit_code": null,
                     *           "last_exit_at": null
                     *         },
                     *         "core": {
                     *           "up": true,
                     *           "ready": true,
                     *           "reason": null,
                     *           "latency_ms": 2.1,
                     *           "version": "0.1.0",
                     *           "uptime_s": 120.5,
                     *           "url": "http://127.0.0.1:6301",
                     *           "restarts": 0,
                     *           "last_exit_code": null,
                     *           "last_exit_at": null
                     *         }
                     *       },
                     *       "all_ready": true,
                     *       "queue_size": 0,
                     *       "oldest_queued_age_s": null,
                     *       "jobs_by_status": {
                     *         "queued": 0,
                     *         "running": 0,
                     *         "succeeded": 5,
                     *         "failed": 1,
                     *         "cancelled": 0
                     *       },
                     *       "jobs_waiting_for_core": 0,
                     *       "callbacks_pending": 0,
                     *       "checked_at": "2026-11-28T04:35:00.000+00:00"
                     *     }
                     */
                    "application/json": components["schemas"]["PlatformStatus"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    healthz: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The service is up. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok",
                     *       "service": "middleware",
                     *       "version": "0.1.0",
                     *       "uptime_s": 12.345,
                     *       "service_key_fingerprint": "4c1d2e3f4a5b"
                     *     }
                     */
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ready",
                     *       "ready": true,
                     *       "service": "middleware",
                     *       "reason": null,
                     *       "stalled_s": null
                     *     }
                     */
                    "application/json": components["schemas"]["Ready"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Not ready; `reason` says why. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "not_ready",
                     *       "ready": false,
                     *       "service": "middleware",
                     *       "reason": "core: http://127.0.0.1:6301: connection refused (not running?)",
                     *       "stalled_s": null
                     *     }
                     */
                    "application/json": components["schemas"]["Ready"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The service's metrics. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example # HELP toy_platform_http_requests_total HTTP requests answered, by endpoint and status code.
                     *     # TYPE toy_platform_http_requests_total counter
                     *     toy_platform_http_requests_total{endpoint="/healthz",method="GET",service="middleware",status="200"} 3.0
                     */
                    "text/plain": string;
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI description of this service. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    chaosPause: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "seconds": 10
                 *     }
                 */
                "application/json": components["schemas"]["ChaosPause"];
            };
        };
        responses: {
            /** @description The pause has started. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "paused_s": 10
                     *     }
                     */
                    "application/json": components["schemas"]["ChaosPaused"];
                };
            };
            /** @description The body is not a JSON object, or `seconds` is missing or out of range. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, stale or wrong service signature. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than 6 x --max-data-bytes + 64 KiB (checked before anything else, the signature included). */
            413: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    jobCallbacks: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "callbacks": [
                 *         {
                 *           "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                 *           "attempt": 1,
                 *           "status": "succeeded",
                 *           "started_at": "2026-11-28T04:33:45.180+00:00",
                 *           "result": "olleh",
                 *           "completed_at": "2026-11-28T04:33:47.185+00:00",
                 *           "delivery_attempt": 1,
                 *           "request_id": "walkthrough-1"
                 *         }
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["JobCallbackBatch"];
            };
        };
        responses: {
            /** @description Received. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "results": [
                     *         {
                     *           "job_id": "6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f",
                     *           "outcome": "applied"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["JobCallbackBatchResult"];
                };
            };
            /** @description The body is not a JSON object, or a field or `attempt` is invalid. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Missing, stale or wrong service signature (X-Toy-Timestamp / X-Toy-Signature). */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than 6 x --max-data-bytes + 64 KiB (checked before anything else, the signature included). */
            413: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The service's own database cannot be used right now (another process holds its lock for longer than a request waits, or the disk is full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelJob: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path: {
                /** @example 6f1c0d7e2b8a4f3c9e5d1a2b3c4d5e6f */
                job_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancelled (a queued job), or being cancelled (a running one: `cancel_requested` is true until it stopped). A second cancel answers the same. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Job"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such job, or it is someone else's (a non-admin sees only their own jobs). */
            404: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The job already finished (succeeded or failed). */
            409: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listJobTypes: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description Optional request ID to trace this call by. Kept when it matches `^[A-Za-z0-9._:-]{1,64}$`; otherwise (or when absent) the service makes one.
                 * @example 3f2c9a0e7b5d4c1e9a8b7c6d5e4f3a2b
                 */
                "X-Request-ID"?: components["parameters"]["XRequestID"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The job types core's workers offer (or offered when last asked: `checked_at`). */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobTypes"];
                };
            };
            /** @description No bearer token, or it is malformed, expired or not from this platform's auth service. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "WWW-Authenticate": components["headers"]["WWWAuthenticate"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description An unexpected error; the service's log has the details (same request ID). */
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The token cannot be checked: the auth service's keys cannot be fetched; or the job store cannot be used right now (PostgreSQL not answering, or the SQLite file locked by another process for longer than a request waits, or the disk full): nothing was stored, unless the error says the connection was lost while it was being saved (then sending the same request again, with the same Idempotency-Key for a submit, does it once); try again after Retry-After seconds. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Seconds to wait before trying again (with store_unavailable). */
                    "Retry-After"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
