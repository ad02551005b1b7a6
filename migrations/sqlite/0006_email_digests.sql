CREATE TABLE `email_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`message_row_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`recipient` text NOT NULL,
	`message_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`last_attempt_at` integer,
	`last_code` integer,
	`last_error` text,
	`sent_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `email_deliveries_due_idx` ON `email_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `email_deliveries_subscription_idx` ON `email_deliveries` (`subscription_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `email_digests` (
	`subscription_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`sent_through` integer NOT NULL,
	`first_pending_at` integer,
	`last_sent_at` integer,
	`open_count` integer NOT NULL,
	`resolved_pending` integer NOT NULL,
	PRIMARY KEY(`subscription_id`, `batch_id`)
);
--> statement-breakpoint
CREATE TABLE `email_messages` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`kind` text NOT NULL,
	`model` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `email_messages_subscription_idx` ON `email_messages` (`subscription_id`);--> statement-breakpoint
CREATE TABLE `email_reported` (
	`subscription_id` text NOT NULL,
	`batch_id` text NOT NULL,
	`mailbox` text NOT NULL,
	`category` text NOT NULL,
	`failure` text NOT NULL,
	`reported_at` integer NOT NULL,
	PRIMARY KEY(`subscription_id`, `batch_id`, `mailbox`, `category`)
);
--> statement-breakpoint
CREATE TABLE `email_subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`description` text,
	`recipients` text NOT NULL,
	`unsubscribed` text NOT NULL,
	`batch_ids` text NOT NULL,
	`categories` text NOT NULL,
	`minimum_severity` text NOT NULL,
	`enabled` integer NOT NULL,
	`link_secret` text NOT NULL,
	`feed_cursor` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `email_subscriptions_tenant_idx` ON `email_subscriptions` (`tenant_id`,`created_at`);