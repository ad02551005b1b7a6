CREATE TABLE "change_counters" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"last_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "changes" (
	"tenant_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"batch_id" text NOT NULL,
	"mailbox" text NOT NULL,
	"category" text NOT NULL,
	"rule" text NOT NULL,
	"status" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"recorded_at" bigint NOT NULL,
	"failure" text NOT NULL,
	CONSTRAINT "changes_tenant_id_seq_pk" PRIMARY KEY("tenant_id","seq")
);
--> statement-breakpoint
CREATE INDEX "changes_batch_idx" ON "changes" USING btree ("tenant_id","batch_id","seq");--> statement-breakpoint
CREATE INDEX "changes_recorded_idx" ON "changes" USING btree ("recorded_at");