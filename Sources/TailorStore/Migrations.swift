// The schema, as named and versioned GRDB migrations applied in order at every open.
// Never edit a migration that has shipped: add the next one below instead; GRDB records which ran. PostgresMigrations
// holds the same migrations, by the same names, for PostgreSQL: add every new one to both.
import GRDB

enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: v1)
        migrator.registerMigration("v2_jobs", migrate: v2Jobs)
        migrator.registerMigration("v3_job_lifecycle", migrate: v3JobLifecycle)
        migrator.registerMigration("v4_evals", migrate: v4Evals)
        migrator.registerMigration("v5_job_evaluation", migrate: v5JobEvaluation)
        migrator.registerMigration("v6_job_leases", migrate: v6JobLeases)
        migrator.registerMigration("v7_job_lease_lapses", migrate: v7JobLeaseLapses)
        migrator.registerMigration("v8_eval_run_leases", migrate: v8EvalRunLeases)
        migrator.registerMigration("v9_uploads", migrate: v9Uploads)
        return migrator
    }

    /// Projects, API keys and files. Every table has `seq`, an AUTOINCREMENT rowid that never repeats, so
    /// objects created in the same second still have a total order (listings sort by it, not by created_at,
    /// which follows the wall clock and can step backwards). The `default` project is created here, so it
    /// exists from the first open and keeps its id forever.
    private static func v1(_ db: Database) throws {
        try db.create(table: "projects") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("name", .text).notNull().unique()
            t.column("created_at", .integer).notNull()
        }
        try db.create(table: "api_keys") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().indexed().references("projects", column: "id")
            t.column("name", .text)
            t.column("hash", .text).notNull().unique()
            t.column("prefix", .text).notNull()
            t.column("is_admin", .boolean).notNull().defaults(to: false)
            t.column("created_at", .integer).notNull()
            t.column("last_used_at", .integer)
            t.column("revoked_at", .integer)
        }
        try db.create(table: "files") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("filename", .text).notNull()
            t.column("purpose", .text).notNull()
            t.column("bytes", .integer).notNull()
            t.column("created_at", .integer).notNull()
            t.column("status", .text).notNull()
            t.column("status_details", .text)
            t.column("sha256", .text).notNull()
            t.column("expires_at", .integer)
        }
        // Listings filter by project (and often purpose) and page by seq.
        try db.create(index: "files_by_project", on: "files", columns: ["project_id", "seq"])
        try db.create(index: "files_by_project_purpose", on: "files", columns: ["project_id", "purpose", "seq"])

        try ProjectRecord(id: IDGenerator.make(prefix: IDPrefix.project), name: ProjectRecord.defaultName,
                          createdAt: unixNow()).insert(db)
    }

    /// Fine-tuning jobs with their events and checkpoints, and the fine-tuned models they produce. Structured
    /// OpenAI fields (hyperparameters, metadata, error, …) are stored as the JSON the API returns.
    private static func v2Jobs(_ db: Database) throws {
        try db.create(table: "jobs") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("model", .text).notNull()
            t.column("training_file", .text).notNull()
            t.column("validation_file", .text)
            t.column("status", .text).notNull()
            t.column("hyperparameters", .text).notNull()
            t.column("resolved_hyperparameters", .text)
            t.column("method_type", .text).notNull()
            t.column("suffix", .text)
            t.column("seed", .integer).notNull()
            t.column("metadata", .text)
            t.column("integrations", .text)
            t.column("options", .text).notNull()
            t.column("error", .text)
            t.column("fine_tuned_model", .text)
            t.column("result_files", .text).notNull().defaults(to: "[]")
            t.column("trained_tokens", .integer)
            t.column("estimated_finish", .integer)
            t.column("created_at", .integer).notNull()
            t.column("started_at", .integer)
            t.column("finished_at", .integer)
            t.column("step", .integer).notNull().defaults(to: 0)
            t.column("total_steps", .integer)
            t.column("pause_requested", .boolean).notNull().defaults(to: false)
            t.column("cancel_requested", .boolean).notNull().defaults(to: false)
            t.column("attempts", .integer).notNull().defaults(to: 0)
        }
        try db.create(index: "jobs_by_project", on: "jobs", columns: ["project_id", "seq"])
        try db.create(index: "jobs_by_status", on: "jobs", columns: ["status", "seq"])
        try db.create(table: "job_events") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("job_id", .text).notNull().references("jobs", column: "id", onDelete: .cascade)
            t.column("created_at", .integer).notNull()
            t.column("level", .text).notNull()
            t.column("message", .text).notNull()
            t.column("type", .text).notNull()
            t.column("data", .text)
        }
        try db.create(index: "job_events_by_job", on: "job_events", columns: ["job_id", "seq"])
        try db.create(table: "checkpoints") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("job_id", .text).notNull().references("jobs", column: "id", onDelete: .cascade)
            t.column("step_number", .integer).notNull()
            t.column("created_at", .integer).notNull()
            t.column("model_name", .text).notNull().unique()
            t.column("metrics", .text).notNull()
            t.column("directory", .text).notNull()
        }
        try db.create(index: "checkpoints_by_job", on: "checkpoints", columns: ["job_id", "step_number"])
        try db.create(table: "models") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("base_model", .text).notNull()
            t.column("job_id", .text)
            t.column("adapter_directory", .text).notNull()
            t.column("created_at", .integer).notNull()
            t.column("owned_by", .text).notNull()
        }
        try db.create(table: "base_models") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("path", .text).notNull()
            t.column("created_at", .integer).notNull()
        }
    }

    /// One lifecycle (JobLifecycle): who holds a running job, and the plan validation wrote. The request flags it
    /// replaces were never read.
    private static func v3JobLifecycle(_ db: Database) throws {
        try db.alter(table: "jobs") { t in
            t.add(column: "claimed_by", .text)
            t.add(column: "plan", .text)
            t.drop(column: "pause_requested")
            t.drop(column: "cancel_requested")
        }
    }

    /// The Evals API: evals, their runs (deleted with the eval) and each run's output items (deleted with the run).
    /// Listings page by seq within an eval or run; the runner finds unfinished runs by status.
    private static func v4Evals(_ db: Database) throws {
        try db.create(table: "evals") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("name", .text).notNull()
            t.column("data_source_config", .text).notNull()
            t.column("testing_criteria", .text).notNull()
            t.column("metadata", .text)
            t.column("created_at", .integer).notNull()
        }
        try db.create(index: "evals_by_project", on: "evals", columns: ["project_id", "seq"])
        try db.create(table: "eval_runs") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("eval_id", .text).notNull().references("evals", column: "id", onDelete: .cascade)
            t.column("project_id", .text).notNull().references("projects", column: "id")
            t.column("name", .text).notNull()
            t.column("model", .text).notNull()
            t.column("status", .text).notNull()
            t.column("data_source", .text).notNull()
            t.column("items", .text).notNull()
            t.column("metadata", .text)
            t.column("error", .text)
            t.column("tally", .text).notNull()
            t.column("created_at", .integer).notNull()
            t.column("started_at", .integer)
            t.column("finished_at", .integer)
        }
        try db.create(index: "eval_runs_by_eval", on: "eval_runs", columns: ["eval_id", "seq"])
        try db.create(index: "eval_runs_by_status", on: "eval_runs", columns: ["status", "seq"])
        try db.create(table: "eval_output_items") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("run_id", .text).notNull().references("eval_runs", column: "id", onDelete: .cascade)
            t.column("eval_id", .text).notNull()
            t.column("datasource_item_id", .integer).notNull()
            t.column("status", .text).notNull()
            t.column("datasource_item", .text).notNull()
            t.column("results", .text).notNull()
            t.column("sample", .text).notNull()
            t.column("created_at", .integer).notNull()
            t.uniqueKey(["run_id", "datasource_item_id"])
        }
        try db.create(index: "eval_output_items_by_run", on: "eval_output_items", columns: ["run_id", "seq"])
    }

    /// A job's built-in evaluation (`tailor.evaluation`): the test file (a column, so deleting it can be refused
    /// while the job is live), the graders asked for (JSON; null for the default set), and once the job has
    /// succeeded the eval and run ids it was given (JSON).
    private static func v5JobEvaluation(_ db: Database) throws {
        try db.alter(table: "jobs") { t in
            t.add(column: "evaluation_file", .text)
            t.add(column: "evaluation_graders", .text)
            t.add(column: "evaluation_runs", .text)
        }
    }

    /// Several processes share one queue (Store+Claims.swift): a claimed job's lease — when it expires (Unix
    /// milliseconds, the database's clock) and its generation, bumped at every claim so a worker whose lease was taken
    /// over is refused its writes — and, per project, when it last had a job started (fairness across projects).
    private static func v6JobLeases(_ db: Database) throws {
        try db.alter(table: "jobs") { t in
            t.add(column: "lease_generation", .integer).notNull().defaults(to: 0)
            t.add(column: "lease_expires_ms", .integer)
        }
        try db.create(table: "project_starts") { t in
            t.column("project_id", .text).primaryKey().references("projects", column: "id")
            t.column("last_started_ms", .integer).notNull()
        }
    }

    /// How many times a job's lease lapsed (its worker died, hung or lost the database while holding it): a job that
    /// takes its worker down every time is failed after a few, instead of being retried for ever.
    private static func v7JobLeaseLapses(_ db: Database) throws {
        try db.alter(table: "jobs") { t in t.add(column: "lease_lapses", .integer).notNull().defaults(to: 0) }
    }

    /// Eval runs are claimed like jobs (Store+EvalClaims.swift): who holds a run, when the lease expires (Unix
    /// milliseconds, the database's clock) and its generation, bumped at every claim so a node whose lease was taken
    /// over is refused its writes of the run's items and counts.
    private static func v8EvalRunLeases(_ db: Database) throws {
        try db.alter(table: "eval_runs") { t in
            t.add(column: "claimed_by", .text)
            t.add(column: "lease_generation", .integer).notNull().defaults(to: 0)
            t.add(column: "lease_expires_ms", .integer)
        }
    }

    /// Uploads (Store+Uploads.swift): a file announced with its size and sent in parts, whose bytes wait under
    /// DATA/uploads/ until the Upload is completed into a File (`file_id`) or cancelled, or expires.
    private static func v9Uploads(_ db: Database) throws {
        try db.create(table: "uploads") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("id", .text).notNull().unique()
            t.column("project_id", .text).notNull().indexed().references("projects", column: "id")
            t.column("filename", .text).notNull()
            t.column("purpose", .text).notNull()
            t.column("mime_type", .text).notNull()
            t.column("bytes", .integer).notNull()
            t.column("created_at", .integer).notNull()
            t.column("expires_at", .integer).notNull()
            t.column("status", .text).notNull()
            t.column("file_id", .text)
            t.column("file_expires_after", .integer)
        }
    }
}
