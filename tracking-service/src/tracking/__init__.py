"""MPP Digital tracking service: timelines, notifications, webhooks, satisfaction surveys and service-level reports."""
