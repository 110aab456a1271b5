# Two customer-managed policies to attach to roles: read-only for downstream readers, read-write for
# the pipeline. Both get s3:ListBucket on the whole bucket: without it S3 answers 403 instead of 404 for
# a missing key (a prefix-conditioned ListBucket does not count for GET/HEAD), and the store's
# write-once logic and readers' KeyNotFound depend on the 404. Listing reveals key names only.

locals {
  kms_keys = var.kms_key_arn == null ? [] : [var.kms_key_arn]
}

data "aws_iam_policy_document" "reader" {
  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  # The clean zone: documents, aliases, the Parquet view and the published JSON Schema.
  statement {
    sid       = "ReadCleanZone"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${local.prefixes.clean}*"]
  }

  dynamic "statement" {
    for_each = local.kms_keys

    content {
      sid       = "DecryptWithBucketKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid = "ReadWriteZones"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for zone in values(local.prefixes) : "${local.bucket_arn}/${zone}*"]
  }

  # Completion markers, per-source state and the conditional-write probe are mutable.
  statement {
    sid       = "DeleteState"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.bucket_arn}/${local.prefixes.state}*"]
  }

  # Write-once zones: an explicit deny wins over any other policy attached to the same role.
  statement {
    sid     = "NeverDeleteWriteOnceZones"
    effect  = "Deny"
    actions = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = [
      "${local.bucket_arn}/${local.prefixes.raw}*",
      "${local.bucket_arn}/${local.prefixes.clean}*",
    ]
  }

  dynamic "statement" {
    for_each = local.kms_keys

    content {
      sid       = "EncryptDecryptWithBucketKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "reader" {
  count = var.create_iam_policies ? 1 : 0

  name        = "${var.iam_policy_name_prefix}-reader"
  description = "Read-only access to the cleanwire clean zone (documents, Parquet view, schema) in ${var.bucket_name}."
  policy      = data.aws_iam_policy_document.reader.json
}

resource "aws_iam_policy" "pipeline" {
  count = var.create_iam_policies ? 1 : 0

  name        = "${var.iam_policy_name_prefix}-pipeline"
  description = "cleanwire pipeline access to ${var.bucket_name}: write-once zones without delete, mutable state."
  policy      = data.aws_iam_policy_document.pipeline.json
}
