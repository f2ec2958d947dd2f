/**
 * Generated from toy_platform/openapi/auth.json by `npm run gen:api`
 * (openapi-typescript 7.13.0). Do not edit: change the OpenAPI document
 * and run `npm run gen:api` again.
 */

export interface paths {
    "/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log in: trade a username and password for a bearer token.
         * @description After 5 failed logins for a username, or 20 from one address, within 15 minutes, further attempts answer 429 until the oldest failure is 15 minutes old. A successful login clears the username's failures.
         */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/.well-known/jwks.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The public key tokens are signed with (JWKS, RFC 7517). */
        get: operations["jwks"];
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
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        LoginRequest: {
            username: string;
            /** Format: password */
            password: string;
        };
        /** @description A new access token and who it is for. */
        Login: {
            /** @description An EdDSA-signed JWT. */
            token: string;
            /** @constant */
            token_type: "Bearer";
            /** @description Lifetime in seconds. */
            expires_in: number;
            username: string;
            /** @enum {string} */
            role: "user" | "admin";
        };
        JWKS: {
            keys: components["schemas"]["JWK"][];
        };
        JWK: {
            /** @constant */
            kty: "OKP";
            /** @constant */
            crv: "Ed25519";
            /** @description The public key, base64url. */
            x: string;
            kid: string;
            /** @constant */
            use: "sig";
            /** @constant */
            alg: "EdDSA";
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
            /** @description A stable, machine-readable code. Known codes: invalid_json, invalid_field, invalid_header, unauthorized, invalid_credentials, invalid_token, token_expired, forbidden, not_found, not_failed, too_large, too_many_attempts, auth_unavailable, method_not_allowed, internal_error. */
            code: string;
            /** @description The request field, parameter or header at fault, if one is. */
            field?: string;
            /** @description Seconds to wait before trying again (429 only). */
            retry_after?: number;
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
    login: {
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
                 *       "username": "alice",
                 *       "password": "correct horse"
                 *     }
                 */
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Logged in. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjFhMmIzYzRkNWU2ZjdhOGIiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJ1c2VyIn0.c2lnbmF0dXJl",
                     *       "token_type": "Bearer",
                     *       "expires_in": 1800,
                     *       "username": "alice",
                     *       "role": "user"
                     *     }
                     */
                    "application/json": components["schemas"]["Login"];
                };
            };
            /** @description The body is not a JSON object, or a field is missing or not a non-empty string. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Unknown user or wrong password. */
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
            /** @description Too many failed logins for this username or address. */
            429: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    "Retry-After": components["headers"]["RetryAfter"];
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
            /** @description users.json cannot be used (unreadable, not JSON, or not a users file): nobody can log in until it is restored. `/readyz` and the service's log say what is wrong with it. */
            503: {
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
    jwks: {
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
            /** @description The key set. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestID"];
                    /** @description Keys may be cached for 5 minutes. */
                    "Cache-Control": string;
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "keys": [
                     *         {
                     *           "kty": "OKP",
                     *           "crv": "Ed25519",
                     *           "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                     *           "kid": "1a2b3c4d5e6f7a8b",
                     *           "use": "sig",
                     *           "alg": "EdDSA"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["JWKS"];
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
                     *       "service": "auth",
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
                     *       "service": "auth",
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
                     *       "service": "auth",
                     *       "reason": "users: /home/me/.config/toy-platform/users.json does not exist",
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
                     *     toy_platform_http_requests_total{endpoint="/healthz",method="GET",service="auth",status="200"} 3.0
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
}
