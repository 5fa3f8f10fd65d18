package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// objectStoreTimeout bounds the object store requests an API call makes before it answers.
const objectStoreTimeout = 30 * time.Second

func (s *Service) requireObjectStore(what string) error {
	if s.cfg.Objects == nil {
		return api.InvalidParameterValueException("%s needs an S3-compatible object store: start ecache with --s3-endpoint.", what)
	}
	return nil
}

// exportSnapshot starts writing an available snapshot's files to bucket (CopySnapshot with TargetBucket),
// after checking that the bucket exists and can be read and written, and that no object is in the way. The
// snapshot shows exporting until the controller has uploaded every file.
func (s *Service) exportSnapshot(ctx context.Context, rg, source, target, bucket string) (*api.Snapshot, error) {
	if err := s.requireObjectStore(fmt.Sprintf("Exporting snapshot %s to S3 bucket %s", source, bucket)); err != nil {
		return nil, err
	}
	obj, err := s.store.Get(ctx, resource.KindSnapshot, resource.Key(rg, source))
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.SnapshotNotFoundFault("Snapshot %s not found.", source)
	} else if err != nil {
		return nil, internal("export snapshot", err)
	}
	snap, err := resource.Unmarshal[resource.Snapshot](obj.Value)
	if err != nil {
		return nil, internal("export snapshot", err)
	}
	if snap.Status != resource.SnapshotAvailable {
		return nil, api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", source, snap.Status)
	}
	checkCtx, cancel := context.WithTimeout(ctx, objectStoreTimeout)
	defer cancel()
	objects := s.cfg.Objects
	if err := objects.CheckBucket(checkCtx, bucket); err != nil {
		return nil, bucketFault(bucket, "READ", err)
	}
	for _, sh := range snap.Shards {
		key := snap.ExportKey(target, sh)
		_, err := objects.Stat(checkCtx, bucket, key)
		switch {
		case err == nil:
			return nil, api.InvalidParameterValueException("The S3 bucket %s already contains an object with key %s.", bucket, key)
		case !errors.Is(err, objectstore.ErrNoSuchKey):
			return nil, bucketFault(bucket, "READ", err)
		}
	}
	if err := objects.CheckWritable(checkCtx, bucket, snap.ExportKey(target, snap.Shards[0])); err != nil {
		return nil, bucketFault(bucket, "WRITE", err)
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var obj store.Object
		var err error
		snap, obj, err = getRecord[resource.Snapshot](tx, resource.KindSnapshot, resource.Key(rg, source), func() error {
			return api.SnapshotNotFoundFault("Snapshot %s not found.", source)
		})
		if err != nil {
			return err
		}
		if snap.Status != resource.SnapshotAvailable {
			return api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", source, snap.Status)
		}
		snap.Status, snap.Export, snap.Failures = resource.SnapshotExporting, &resource.SnapshotExport{Bucket: bucket, Name: target}, 0
		_, err = tx.Put(resource.KindSnapshot, obj.Key, resource.Marshal(snap), obj.Revision)
		return err
	})
	if err != nil {
		return nil, faultOrInternal("export snapshot", err)
	}
	return s.renderSnapshot(snap, false), nil
}

// bucketFault is ElastiCache's answer when an object store request about bucket was refused; permission
// names the access that was missing (READ or WRITE).
func bucketFault(bucket, permission string, err error) error {
	switch {
	case errors.Is(err, objectstore.ErrNoSuchBucket):
		return api.InvalidParameterValueException("The S3 bucket %s does not exist.", bucket)
	case errors.Is(err, objectstore.ErrAccessDenied):
		return api.InvalidParameterValueException("ElastiCache has not been granted %s permissions %s on the S3 Bucket.", permission, bucket)
	}
	return api.InvalidParameterValueException("The S3 bucket %s could not be reached: %v", bucket, err)
}

// validSnapshotARNs checks the form of SnapshotArns: S3 object ARNs whose names have no comma.
func validSnapshotARNs(arns []string) error {
	if len(arns) == 0 {
		return api.InvalidParameterValueException("SnapshotArns must name at least one Amazon S3 object.")
	}
	for _, arn := range arns {
		if _, key, ok := objectstore.ParseARN(arn); !ok || strings.Contains(key, ",") {
			return api.InvalidParameterValueException("Invalid S3 object ARN %q: expected arn:aws:s3:::bucket/object.rdb, and the object name cannot contain commas.", arn)
		}
	}
	return nil
}

// importSnapshot checks the RDB files that SnapshotArns name, for engine eng whose binary is
// binaryVersion, and describes them as an (unstored) snapshot with one node group per file; a restore takes
// it like a stored one and downloads each file before the node that loads it first starts.
func (s *Service) importSnapshot(ctx context.Context, arns []string, eng, binaryVersion string) (*resource.Snapshot, error) {
	if err := validSnapshotARNs(arns); err != nil {
		return nil, err
	}
	if err := s.requireObjectStore("Restoring from SnapshotArns"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, objectStoreTimeout)
	defer cancel()
	snap := &resource.Snapshot{Name: strings.Join(arns, ","), UID: resource.ImportsDir + "/" + newUID(), Status: resource.SnapshotAvailable}
	for i, arn := range arns {
		bucket, key, _ := objectstore.ParseARN(arn)
		obj, err := s.cfg.Objects.Stat(ctx, bucket, key)
		if errors.Is(err, objectstore.ErrNoSuchKey) {
			return nil, api.InvalidParameterValueException("The S3 object %s does not exist.", arn)
		} else if err != nil {
			return nil, bucketFault(bucket, "READ", err)
		}
		head, err := s.cfg.Objects.ReadHead(ctx, bucket, key, 9)
		if err != nil {
			return nil, bucketFault(bucket, "READ", err)
		}
		format, err := engine.RDBFormatVersion(head)
		if err != nil {
			return nil, api.InvalidParameterValueException("The S3 object %s is not an RDB file.", arn)
		}
		if max := engine.RDBVersion(eng, binaryVersion); format > max {
			return nil, api.InvalidParameterCombinationException("The S3 object %s is an RDB file of format version %d; %s %s reads format versions up to %d.", arn, format, eng, binaryVersion, max)
		}
		snap.Shards = append(snap.Shards, resource.SnapshotShard{
			NodeGroupID: fmt.Sprintf("%04d", i+1), Slots: obj.Metadata[resource.ExportMetaSlots], Size: obj.Size, Object: bucket + "/" + key,
		})
	}
	return snap, nil
}

// importedSlots checks that the files of an import seeding several node groups of a cluster mode group say
// which slots they hold (ecache records them when it exports), without overlaps.
func importedSlots(snap *resource.Snapshot) error {
	var all []hashslot.Range
	for _, sh := range snap.Shards {
		ranges, err := hashslot.Parse(sh.Slots)
		if sh.Slots == "" || err != nil {
			return api.InvalidParameterValueException("The S3 object arn:aws:s3:::%s carries no slot ranges (ecache records them when it exports a cluster mode snapshot); several RDB files seed a cluster mode group only with them.", sh.Object)
		}
		all = append(all, ranges...)
	}
	if err := hashslot.CheckOverlap(all); err != nil {
		return api.InvalidParameterValueException("The S3 objects of SnapshotArns hold overlapping slot ranges: %v", err)
	}
	return nil
}
