// The PostgreSQL schema: the same named migrations as Migrations.swift (SQLite), in PostgreSQL's types, recorded
// in tailor_migrations and applied once by whichever process opens the database first, under an advisory lock;
// beside them tailor_installation, the database's id that data directories record (DataLayout.bind).
// Never edit a migration that has shipped: add the next one here and in Migrations.swift, with the same name.
import PostgresNIO

enum PostgresMigrations {
    /// pg_advisory_lock keys (advisory locks are per database, so these only need to be unique within Tailor).
    static let migrationLockKey: Int64 = 0x7461_696C_6F72_0001
    static let eventsLockKey: Int64 = 0x7461_696C_6F72_0002

    /// Name and statements of each migration, in order. Types: TEXT, BIGINT for integers and Unix seconds, BOOLEAN;
    /// `seq` is a BIGSERIAL, like SQLite's AUTOINCREMENT never reused, so listings keep their total order.
    static let all: [(name: String, statements: [String])] = [
        ("v1", [
            """
            CREATE TABLE projects (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE api_keys (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                name TEXT, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT false,
                created_at BIGINT NOT NULL, last_used_at BIGINT, revoked_at BIGINT)
            """,
            "CREATE INDEX index_api_keys_on_project_id ON api_keys (project_id)",
            """
            CREATE TABLE files (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                filename TEXT NOT NULL, purpose TEXT NOT NULL, bytes BIGINT NOT NULL, created_at BIGINT NOT NULL,
                status TEXT NOT NULL, status_details TEXT, sha256 TEXT NOT NULL, expires_at BIGINT)
            """,
            "CREATE INDEX files_by_project ON files (project_id, seq)",
            "CREATE INDEX files_by_project_purpose ON files (project_id, purpose, seq)",
        ]),
        ("v2_jobs", [
            """
            CREATE TABLE jobs (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                model TEXT NOT NULL, training_file TEXT NOT NULL, validation_file TEXT, status TEXT NOT NULL,
                hyperparameters TEXT NOT NULL, resolved_hyperparameters TEXT, method_type TEXT NOT NULL, suffix TEXT,
                seed BIGINT NOT NULL, metadata TEXT, integrations TEXT, options TEXT NOT NULL, error TEXT,
                fine_tuned_model TEXT, result_files TEXT NOT NULL DEFAULT '[]', trained_tokens BIGINT,
                estimated_finish BIGINT, created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT,
                step BIGINT NOT NULL DEFAULT 0, total_steps BIGINT, pause_requested BOOLEAN NOT NULL DEFAULT false,
                cancel_requested BOOLEAN NOT NULL DEFAULT false, attempts BIGINT NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX jobs_by_project ON jobs (project_id, seq)",
            "CREATE INDEX jobs_by_status ON jobs (status, seq)",
            """
            CREATE TABLE job_events (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, created_at BIGINT NOT NULL,
                level TEXT NOT NULL, message TEXT NOT NULL, type TEXT NOT NULL, data TEXT)
            """,
            "CREATE INDEX job_events_by_job ON job_events (job_id, seq)",
            """
            CREATE TABLE checkpoints (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, step_number BIGINT NOT NULL,
                created_at BIGINT NOT NULL, model_name TEXT NOT NULL UNIQUE, metrics TEXT NOT NULL, directory TEXT NOT NULL)
            """,
            "CREATE INDEX checkpoints_by_job ON checkpoints (job_id, step_number)",
            """
            CREATE TABLE models (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                base_model TEXT NOT NULL, job_id TEXT, adapter_directory TEXT NOT NULL, created_at BIGINT NOT NULL,
                owned_by TEXT NOT NULL)
            """,
            """
            CREATE TABLE base_models (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, path TEXT NOT NULL, created_at BIGINT NOT NULL)
            """,
        ]),
        ("v3_job_lifecycle", [
            "ALTER TABLE jobs ADD COLUMN claimed_by TEXT, ADD COLUMN plan TEXT, DROP COLUMN pause_requested, DROP COLUMN cancel_requested",
        ]),
        ("v4_evals", [
            """
            CREATE TABLE evals (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                name TEXT NOT NULL, data_source_config TEXT NOT NULL, testing_criteria TEXT NOT NULL, metadata TEXT,
                created_at BIGINT NOT NULL)
            """,
            "CREATE INDEX evals_by_project ON evals (project_id, seq)",
            """
            CREATE TABLE eval_runs (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                eval_id TEXT NOT NULL REFERENCES evals (id) ON DELETE CASCADE,
                project_id TEXT NOT NULL REFERENCES projects (id), name TEXT NOT NULL, model TEXT NOT NULL,
                status TEXT NOT NULL, data_source TEXT NOT NULL, items TEXT NOT NULL, metadata TEXT, error TEXT,
                tally TEXT NOT NULL, created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT)
            """,
            "CREATE INDEX eval_runs_by_eval ON eval_runs (eval_id, seq)",
            "CREATE INDEX eval_runs_by_status ON eval_runs (status, seq)",
            """
            CREATE TABLE eval_output_items (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                run_id TEXT NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE, eval_id TEXT NOT NULL,
                datasource_item_id BIGINT NOT NULL, status TEXT NOT NULL, datasource_item TEXT NOT NULL,
                results TEXT NOT NULL, sample TEXT NOT NULL, created_at BIGINT NOT NULL,
                UNIQUE (run_id, datasource_item_id))
            """,
            "CREATE INDEX eval_output_items_by_run ON eval_output_items (run_id, seq)",
        ]),
        ("v5_job_evaluation", [
            "ALTER TABLE jobs ADD COLUMN evaluation_file TEXT, ADD COLUMN evaluation_graders TEXT, ADD COLUMN evaluation_runs TEXT",
        ]),
        ("v6_job_leases", [
            "ALTER TABLE jobs ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0, ADD COLUMN lease_expires_ms BIGINT",
            """
            CREATE TABLE project_starts (
                project_id TEXT PRIMARY KEY REFERENCES projects (id), last_started_ms BIGINT NOT NULL)
            """,
        ]),
        ("v7_job_lease_lapses", ["ALTER TABLE jobs ADD COLUMN lease_lapses BIGINT NOT NULL DEFAULT 0"]),
        ("v8_eval_run_leases", [
            "ALTER TABLE eval_runs ADD COLUMN claimed_by TEXT, ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0, ADD COLUMN lease_expires_ms BIGINT",
        ]),
        ("v9_uploads", [
            """
            CREATE TABLE uploads (
                seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL REFERENCES projects (id),
                filename TEXT NOT NULL, purpose TEXT NOT NULL, mime_type TEXT NOT NULL, bytes BIGINT NOT NULL,
                created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, status TEXT NOT NULL, file_id TEXT,
                file_expires_after BIGINT)
            """,
            "CREATE INDEX index_uploads_on_project_id ON uploads (project_id)",
        ]),
    ]

    /// Applies what is missing, each migration in its own transaction with its row in tailor_migrations. The
    /// session-level advisory lock makes a second process opening at the same moment wait, then find nothing to do;
    /// if this process dies meanwhile, the server drops the lock with its connection.
    /// Returns the database's installation id (tailor_installation, one row made at the first open).
    static func migrate(_ database: PostgresDatabase) throws -> String {
        try database.withConnection { connection in
            _ = try database.run(connection, "SELECT pg_advisory_lock(?)", [migrationLockKey])
            defer { _ = try? database.run(connection, "SELECT pg_advisory_unlock(?)", [migrationLockKey]) }
            _ = try database.run(connection, """
                CREATE TABLE IF NOT EXISTS tailor_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)
                """, [])
            let session = PostgresSession(database: database, connection: connection)
            let applied = Set(try session.scalars(String.self, "SELECT name FROM tailor_migrations", []))
            for migration in all where !applied.contains(migration.name) {
                try session.execute("BEGIN", [])
                do {
                    for statement in migration.statements { try session.execute(statement, []) }
                    if migration.name == "v1" {
                        // As in SQLite's v1: the default project exists from the first open and keeps its id forever.
                        try session.execute("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
                                            [IDGenerator.make(prefix: IDPrefix.project), ProjectRecord.defaultName, unixNow()])
                    }
                    try session.execute("INSERT INTO tailor_migrations (name, applied_at) VALUES (?, ?)", [migration.name, unixNow()])
                    try session.execute("COMMIT", [])
                } catch {
                    _ = try? session.execute("ROLLBACK", [])
                    throw error
                }
                database.logger.notice("applied a PostgreSQL migration", metadata: ["migration": "\(migration.name)",
                                                                                      "database": "\(database.description)"])
            }
            _ = try database.run(connection, """
                CREATE TABLE IF NOT EXISTS tailor_installation (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)
                """, [])
            if let id = try session.scalar(String.self, "SELECT id FROM tailor_installation", []) { return id }
            let id = IDGenerator.make(prefix: "db_")
            try session.execute("INSERT INTO tailor_installation (id, created_at) VALUES (?, ?)", [id, unixNow()])
            return id
        }
    }
}
