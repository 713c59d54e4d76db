"""Serverless retrieval-augmented generation: query and ingest services that scale to zero, per cloud.

`AwsServerlessRag`, `GcpServerlessRag` and `AzureServerlessRag` share their output names (query_url,
ingest_trigger, documents_bucket, vector_store_id, query_identity, ingest_identity); each pairs
scale-to-zero compute with a vector store that costs nothing while idle.
"""
