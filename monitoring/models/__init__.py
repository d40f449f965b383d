from monitoring.models.runs import TrainingRun
from monitoring.models.series import Rollup, RollupDirty, Sample, Series
from monitoring.models.targets import GpuNode, ModelEndpoint, Target

__all__ = ["GpuNode", "ModelEndpoint", "Rollup", "RollupDirty", "Sample", "Series", "Target", "TrainingRun"]
