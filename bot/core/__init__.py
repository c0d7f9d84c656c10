"""Platform-neutral chat core: types, registry, dispatcher, locale and formatting."""
