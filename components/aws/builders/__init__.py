"""Pure builders: plain data in, plain data out (user data, tags, policies, Kubernetes objects).

Nothing here imports Pulumi, so tests can call each builder directly and a reader sees exactly what
the components send.
"""
