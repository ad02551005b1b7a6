CREATE TABLE "email_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"message_row_id" text NOT NULL,
	"subscription_id" text NOT NULL,
	"recipient" text NOT NULL,
	"message_id" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"lease_until" bigint,
	"last_attempt_at" bigint,
	"last_code" integer,
	"last_error" text,
	"sent_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "email_digests" (
	"subscription_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"sent_through" bigint NOT NULL,
	"first_pending_at" bigint,
	"last_sent_at" bigint,
	"open_count" integer NOT NULL,
	"resolved_pending" boolean NOT NULL,
	CONSTRAINT "email_digests_subscription_id_batch_id_pk" PRIMARY KEY("subscription_id","batch_id")
);
--> statement-breakpoint
CREATE TABLE "email_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"subscription_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"kind" text NOT NULL,
	"model" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "email_reported" (
	"subscription_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"mailbox" text NOT NULL,
	"category" text NOT NULL,
	"failure" text NOT NULL,
	"reported_at" bigint NOT NULL,
	CONSTRAINT "email_reported_subscription_id_batch_id_mailbox_category_pk" PRIMARY KEY("subscription_id","batch_id","mailbox","category")
);
--> statement-breakpoint
CREATE TABLE "email_subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"description" text,
	"recipients" text NOT NULL,
	"unsubscribed" text NOT NULL,
	"batch_ids" text NOT NULL,
	"categories" text NOT NULL,
	"minimum_severity" text NOT NULL,
	"enabled" boolean NOT NULL,
	"link_secret" text NOT NULL,
	"feed_cursor" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "email_deliveries_due_idx" ON "email_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "email_deliveries_subscription_idx" ON "email_deliveries" USING btree ("subscription_id","created_at");--> statement-breakpoint
CREATE INDEX "email_messages_subscription_idx" ON "email_messages" USING btree ("subscription_id");--> statement-breakpoint
CREATE INDEX "email_subscriptions_tenant_idx" ON "email_subscriptions" USING btree ("tenant_id","created_at");