"""MPP Digital application service: applications, their documents, the agencies' processing."""
