"""Webhooks that channels call: WhatsApp Business Cloud API at /webhooks/whatsapp."""
