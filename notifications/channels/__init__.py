"""Provider transports. Only this package imports anymail or twilio."""
