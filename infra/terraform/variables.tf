variable "region" {
  description = "AWS region of the bucket."
  type        = string
}

variable "bucket_name" {
  description = "Name of the one bucket that holds every zone (raw/, clean/, rejects/, state/, manifests/)."
  type        = string
}

variable "key_prefix" {
  description = "Prefix of the store inside the bucket: the 'prefix' of CLEANWIRE_STORE=s3://<bucket>/<prefix>. Empty for the bucket root."
  type        = string
  default     = ""

  validation {
    condition     = !startswith(var.key_prefix, "/")
    error_message = "key_prefix is relative to the bucket: no leading '/'."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS (with an S3 bucket key). Null: SSE-S3 (AES256), no KMS permissions needed."
  type        = string
  default     = null
}

variable "raw_glacier_ir_days" {
  description = "Days after which raw WARC objects move to GLACIER_IR (millisecond reads, so replays still work)."
  type        = number
  default     = 30

  validation {
    condition     = var.raw_glacier_ir_days >= 1
    error_message = "raw_glacier_ir_days must be at least 1."
  }
}

variable "raw_deep_archive_days" {
  description = "Days after which raw WARC objects move to DEEP_ARCHIVE (replay then needs a restore of 12-48 h first). Null keeps them in GLACIER_IR."
  type        = number
  default     = 365
}

variable "rejects_expiration_days" {
  description = "Days after which reject records are deleted. Null keeps them."
  type        = number
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept (versioning protects against overwrites and deletes)."
  type        = number
  default     = 30
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which parts of an unfinished multipart upload (a crashed writer) are deleted."
  type        = number
  default     = 7
}

variable "enforce_conditional_writes" {
  description = "Deny PUTs without If-None-Match on the write-once keys (clean docs, aliases, schema). Needs a server with conditional writes (AWS S3 has them)."
  type        = bool
  default     = false
}

variable "create_iam_policies" {
  description = "Create the reader and pipeline IAM policies (their JSON documents are outputs either way)."
  type        = bool
  default     = true
}

variable "iam_policy_name_prefix" {
  description = "Prefix of the IAM policy names."
  type        = string
  default     = "cleanwire"
}

variable "force_destroy" {
  description = "Allow 'terraform destroy' to delete a bucket that still holds objects. Keep false outside throw-away environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
