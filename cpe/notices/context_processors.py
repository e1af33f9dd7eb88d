def maintenance(request):
    """The banner before a maintenance window (set by MaintenanceMiddleware)."""
    phase, notice = getattr(request, "maintenance", ("", None))
    return {"maintenance_notice": notice if phase == "upcoming" else None}
