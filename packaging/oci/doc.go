// Package oci holds mailtls's OCI image definition (Containerfile, built by make image);
// its test checks that the image's configuration passes config check.
package oci
