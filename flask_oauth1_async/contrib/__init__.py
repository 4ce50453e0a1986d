"""Optional integrations with other libraries; each module names the extra it needs."""
