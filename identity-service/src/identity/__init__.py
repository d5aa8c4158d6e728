"""MPP Digital identity service: accounts, OpenID Connect, mock Dukcapil, consents, access log."""
