CREATE TABLE "batches" (
	"tenant_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"first_event_at" bigint NOT NULL,
	"last_event_at" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "batches_tenant_id_batch_id_pk" PRIMARY KEY("tenant_id","batch_id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"event_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"mailbox" text COLLATE "C" NOT NULL,
	"occurred_at" bigint NOT NULL,
	"outcome" text NOT NULL,
	"category" text COLLATE "C",
	"rule" text,
	"code" text,
	"message" text,
	"context" text NOT NULL,
	"content_hash" text NOT NULL,
	"received_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "failures" (
	"tenant_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"mailbox" text COLLATE "C" NOT NULL,
	"category" text COLLATE "C" NOT NULL,
	"status" text NOT NULL,
	"first_seen_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"occurrences" integer NOT NULL,
	"reopen_count" integer NOT NULL,
	"last_code" text,
	"last_message" text NOT NULL,
	"rule" text NOT NULL,
	"resolved_at" bigint,
	"context" text NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "failures_tenant_id_batch_id_mailbox_category_pk" PRIMARY KEY("tenant_id","batch_id","mailbox","category")
);
--> statement-breakpoint
CREATE TABLE "mailboxes" (
	"tenant_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"mailbox" text COLLATE "C" NOT NULL,
	"first_event_at" bigint NOT NULL,
	"last_event_at" bigint NOT NULL,
	"last_synced_at" bigint,
	"last_failed_at" bigint,
	"event_count" integer NOT NULL,
	CONSTRAINT "mailboxes_tenant_id_batch_id_mailbox_pk" PRIMARY KEY("tenant_id","batch_id","mailbox")
);
--> statement-breakpoint
CREATE INDEX "batches_last_event_idx" ON "batches" USING btree ("tenant_id","last_event_at");--> statement-breakpoint
CREATE UNIQUE INDEX "events_tenant_event_uq" ON "events" USING btree ("tenant_id","event_id");--> statement-breakpoint
CREATE INDEX "events_mailbox_idx" ON "events" USING btree ("tenant_id","batch_id","mailbox","occurred_at");--> statement-breakpoint
CREATE INDEX "failures_report_status_idx" ON "failures" USING btree ("tenant_id","batch_id","status","last_seen_at","mailbox","category");--> statement-breakpoint
CREATE INDEX "failures_report_all_idx" ON "failures" USING btree ("tenant_id","batch_id","last_seen_at","mailbox","category");--> statement-breakpoint
CREATE INDEX "failures_seq_idx" ON "failures" USING btree ("tenant_id","batch_id","seq");