"""Adapters of the Notifier port: apprise URLs (Slack, Teams, email, SNS, webhooks) or, by
default, a mail to the privacy team through the configured mailer (the outbox folder)."""
