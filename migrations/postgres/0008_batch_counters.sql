CREATE TABLE "batch_counters" (
	"tenant_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"name" text NOT NULL,
	"value" bigint NOT NULL,
	CONSTRAINT "batch_counters_tenant_id_batch_id_name_pk" PRIMARY KEY("tenant_id","batch_id","name")
);
--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "held_up_since" bigint;--> statement-breakpoint
CREATE INDEX "mailboxes_held_up_idx" ON "mailboxes" USING btree ("tenant_id","batch_id","held_up_since","mailbox");