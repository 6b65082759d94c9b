"""The failures .ci/vendor_conformance.py accepts, each narrowed to one refusal and its reason."""
