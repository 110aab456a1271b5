output "bucket" {
  description = "Bucket name."
  value       = aws_s3_bucket.store.bucket
}

output "store_url" {
  description = "The value for CLEANWIRE_STORE / --store."
  value       = "s3://${aws_s3_bucket.store.bucket}/${trimsuffix(local.root, "/")}"
}

output "reader_policy_json" {
  description = "IAM policy document for downstream readers (read-only, clean zone)."
  value       = data.aws_iam_policy_document.reader.json
}

output "pipeline_policy_json" {
  description = "IAM policy document for the pipeline's role."
  value       = data.aws_iam_policy_document.pipeline.json
}

output "reader_policy_arn" {
  description = "ARN of the reader policy, if created."
  value       = one(aws_iam_policy.reader[*].arn)
}

output "pipeline_policy_arn" {
  description = "ARN of the pipeline policy, if created."
  value       = one(aws_iam_policy.pipeline[*].arn)
}
