"""Retrieval-augmented answers over a team's own documents, with citations and a grounding refusal.

The same `RagService` backs the HTTP app (Cloud Run / Container Apps), the Lambda adapter and
`hub rag`. This package never imports pulumi.
"""
