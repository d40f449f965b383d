from monitoring.models.series import Rollup, RollupDirty, Sample, Series

__all__ = ["Rollup", "RollupDirty", "Sample", "Series"]
