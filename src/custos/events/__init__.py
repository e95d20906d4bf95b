"""Events: health and tamper faults, motion and operator reports, in the catalog and the ledger, and out
to the tools people already run (MQTT, Home Assistant)."""
