DROP INDEX `failures_report_status_idx`;--> statement-breakpoint
DROP INDEX `failures_report_all_idx`;--> statement-breakpoint
CREATE INDEX `failures_report_status_idx` ON `failures` (`tenant_id`,`batch_id`,`status`,last_seen_at desc,`mailbox`,`category`);--> statement-breakpoint
CREATE INDEX `failures_report_all_idx` ON `failures` (`tenant_id`,`batch_id`,last_seen_at desc,`mailbox`,`category`);