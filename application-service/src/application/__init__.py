"""MPP Digital application service: citizens' applications, their documents and the agencies' processing."""
