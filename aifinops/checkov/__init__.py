"""checkov over a previewed stack: export the ResourceGraph as Terraform-plan JSON and Kubernetes
manifests (`export`), run checkov from its own virtualenv and map its findings back to Pulumi URNs
and source lines (`run`)."""
