"""MPP Digital identity service: accounts, single sign-on (OpenID Connect), the mock Dukcapil registry, consents and the personal-data access log."""
