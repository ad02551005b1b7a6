CREATE TABLE `batches` (
	`tenant_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`first_event_at` integer NOT NULL,
	`last_event_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `batch_id`)
);
--> statement-breakpoint
CREATE INDEX `batches_last_event_idx` ON `batches` (`tenant_id`,`last_event_at`);--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`event_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`mailbox` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`outcome` text NOT NULL,
	`category` text,
	`rule` text,
	`code` text,
	`message` text,
	`context` text NOT NULL,
	`content_hash` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_tenant_event_uq` ON `events` (`tenant_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `events_mailbox_idx` ON `events` (`tenant_id`,`batch_id`,`mailbox`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `failures` (
	`tenant_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`mailbox` text NOT NULL,
	`category` text NOT NULL,
	`status` text NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`occurrences` integer NOT NULL,
	`reopen_count` integer NOT NULL,
	`last_code` text,
	`last_message` text NOT NULL,
	`rule` text NOT NULL,
	`resolved_at` integer,
	`context` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `batch_id`, `mailbox`, `category`)
);
--> statement-breakpoint
CREATE INDEX `failures_report_status_idx` ON `failures` (`tenant_id`,`batch_id`,`status`,`last_seen_at`,`mailbox`,`category`);--> statement-breakpoint
CREATE INDEX `failures_report_all_idx` ON `failures` (`tenant_id`,`batch_id`,`last_seen_at`,`mailbox`,`category`);--> statement-breakpoint
CREATE INDEX `failures_seq_idx` ON `failures` (`tenant_id`,`batch_id`,`seq`);--> statement-breakpoint
CREATE TABLE `mailboxes` (
	`tenant_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`mailbox` text NOT NULL,
	`first_event_at` integer NOT NULL,
	`last_event_at` integer NOT NULL,
	`last_synced_at` integer,
	`last_failed_at` integer,
	`event_count` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `batch_id`, `mailbox`)
);
