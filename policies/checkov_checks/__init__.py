"""aifinops's own checkov checks: load them with `checkov --external-checks-dir policies/checkov_checks`.

checkov imports every module in this folder; the folder needs this file or checkov silently loads none.
"""
