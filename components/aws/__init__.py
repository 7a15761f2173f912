"""The AWS half: EKS GPU node group, model cache and the vLLM judge (one ComponentResource each)."""
