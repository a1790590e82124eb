"""aifinops components: Pulumi ComponentResources for AI workloads on AWS that keep the bill in check.

Import the ones you need, e.g. `from components.gpu_instance import GpuInstance, GpuInstanceArgs`.
Components never import the `aifinops` command.
"""
