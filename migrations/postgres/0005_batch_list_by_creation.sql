DROP INDEX "batches_last_event_idx";--> statement-breakpoint
CREATE INDEX "batches_created_idx" ON "batches" USING btree ("tenant_id","created_at","batch_id");