"""One validated, frozen configuration object, loaded explicitly and passed down (STYLE.md habit 2)."""

from custos.config.settings import RecorderSettings, Settings, StorageSettings, WebSettings, load_settings

__all__ = ["RecorderSettings", "Settings", "StorageSettings", "WebSettings", "load_settings"]
