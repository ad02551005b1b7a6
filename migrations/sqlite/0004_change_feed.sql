CREATE TABLE `change_counters` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`last_seq` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `changes` (
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`batch_id` text NOT NULL,
	`mailbox` text NOT NULL,
	`category` text NOT NULL,
	`rule` text NOT NULL,
	`status` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`failure` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `changes_batch_idx` ON `changes` (`tenant_id`,`batch_id`,`seq`);--> statement-breakpoint
CREATE INDEX `changes_recorded_idx` ON `changes` (`recorded_at`);