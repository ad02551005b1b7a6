CREATE TABLE `batch_counters` (
	`tenant_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`name` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `batch_id`, `name`)
);
--> statement-breakpoint
ALTER TABLE `mailboxes` ADD `held_up_since` integer;--> statement-breakpoint
CREATE INDEX `mailboxes_held_up_idx` ON `mailboxes` (`tenant_id`,`batch_id`,`held_up_since`,`mailbox`);