"""MPP Digital tracking service: timelines, notifications, webhooks, surveys and reports."""
