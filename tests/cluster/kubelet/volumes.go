package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const defaultFileMode = 0o644

// setupVolumes fills <pod>/volumes/<name> for every volume of the pod and returns where each
// is on the host. The containers bind-mount them; nothing here is a mount itself, so a pod
// leaves nothing mounted on the host.
func (pw *podWorker) setupVolumes(ctx context.Context, pod *v1.Pod) (map[string]string, error) {
	paths := map[string]string{}
	src := newRefSource(pw.k, pod.Namespace)
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, vol := range pod.Spec.Volumes {
		dir := filepath.Join(pw.dir, "volumes", vol.Name)
		paths[vol.Name] = dir
		var err error
		switch {
		case vol.EmptyDir != nil:
			err = makeEmptyDir(dir, fsGroup)
		case vol.HostPath != nil:
			paths[vol.Name] = vol.HostPath.Path
			if t := vol.HostPath.Type; t != nil && (*t == v1.HostPathDirectoryOrCreate) {
				err = os.MkdirAll(vol.HostPath.Path, 0o755)
			}
		case vol.ConfigMap != nil:
			err = pw.writeFiles(dir, fsGroup, func(w *fileWriter) error {
				return w.configMap(ctx, src, vol.ConfigMap.Name, vol.ConfigMap.Items, vol.ConfigMap.Optional, vol.ConfigMap.DefaultMode)
			})
		case vol.Secret != nil:
			err = pw.writeFiles(dir, fsGroup, func(w *fileWriter) error {
				return w.secret(ctx, src, vol.Secret.SecretName, vol.Secret.Items, vol.Secret.Optional, vol.Secret.DefaultMode)
			})
		case vol.DownwardAPI != nil:
			err = pw.writeFiles(dir, fsGroup, func(w *fileWriter) error {
				return w.downwardAPI(pod, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode)
			})
		case vol.Projected != nil:
			err = pw.writeFiles(dir, fsGroup, func(w *fileWriter) error {
				return w.projected(ctx, src, pod, vol.Projected)
			})
		default:
			err = fmt.Errorf("unsupported volume type")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vol.Name, err)
		}
	}
	return paths, nil
}

// makeEmptyDir gives the directory the real emptyDir's 0777, so any container user can write
// it; with an fsGroup, that group owns it and new files inherit the group.
func makeEmptyDir(dir string, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	mode := os.FileMode(0o777)
	if fsGroup != nil {
		if err := os.Chown(dir, 0, int(*fsGroup)); err != nil {
			return err
		}
		mode |= os.ModeSetgid
	}
	return os.Chmod(dir, mode)
}

// fileWriter writes the files of one configMap, secret, downwardAPI or projected volume.
type fileWriter struct {
	pw      *podWorker
	dir     string
	fsGroup *int64
}

func (pw *podWorker) writeFiles(dir string, fsGroup *int64, fill func(*fileWriter) error) error {
	// Written afresh each time the pod starts here: leftovers of an earlier attempt must not
	// survive as stale keys.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fill(&fileWriter{pw: pw, dir: dir, fsGroup: fsGroup})
}

// write puts data at rel with the requested mode, made readable by the container's user: to
// the fsGroup if there is one, to everyone if not (the user is not known per volume).
func (w *fileWriter) write(rel string, data []byte, mode *int32, defaultMode *int32) error {
	rel = filepath.Clean("/" + rel)[1:]
	if rel == "" || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("bad path %q", rel)
	}
	perm := os.FileMode(defaultFileMode)
	if defaultMode != nil {
		perm = os.FileMode(*defaultMode)
	}
	if mode != nil {
		perm = os.FileMode(*mode)
	}
	if w.fsGroup != nil {
		perm |= 0o440
	} else {
		perm |= 0o444
	}
	path := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, perm&os.ModePerm); err != nil {
		return err
	}
	if w.fsGroup != nil {
		if err := os.Chown(path, 0, int(*w.fsGroup)); err != nil {
			return err
		}
	}
	return os.Chmod(path, perm&os.ModePerm)
}

func (w *fileWriter) configMap(ctx context.Context, src *refSource, name string, items []v1.KeyToPath, optional *bool, defaultMode *int32) error {
	cm, err := src.configMap(ctx, name)
	if err != nil {
		if apierrors.IsNotFound(err) && ptrTrue(optional) {
			return nil
		}
		return err
	}
	data := map[string][]byte{}
	for key, value := range cm.Data {
		data[key] = []byte(value)
	}
	for key, value := range cm.BinaryData {
		data[key] = value
	}
	return w.keys("ConfigMap "+name, data, items, optional, defaultMode)
}

func (w *fileWriter) secret(ctx context.Context, src *refSource, name string, items []v1.KeyToPath, optional *bool, defaultMode *int32) error {
	s, err := src.secret(ctx, name)
	if err != nil {
		if apierrors.IsNotFound(err) && ptrTrue(optional) {
			return nil
		}
		return err
	}
	return w.keys("Secret "+name, s.Data, items, optional, defaultMode)
}

// keys writes every key as a file named after it, or only the listed items at their paths.
func (w *fileWriter) keys(what string, data map[string][]byte, items []v1.KeyToPath, optional *bool, defaultMode *int32) error {
	if len(items) == 0 {
		for _, key := range sortedKeys(data) {
			if err := w.write(key, data[key], nil, defaultMode); err != nil {
				return err
			}
		}
		return nil
	}
	for _, item := range items {
		value, ok := data[item.Key]
		if !ok {
			if ptrTrue(optional) {
				continue
			}
			return fmt.Errorf("%s has no key %q", what, item.Key)
		}
		if err := w.write(item.Path, value, item.Mode, defaultMode); err != nil {
			return err
		}
	}
	return nil
}

func (w *fileWriter) downwardAPI(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, defaultMode *int32) error {
	for _, item := range items {
		var value string
		var err error
		switch {
		case item.FieldRef != nil:
			value, err = w.pw.fieldValue(pod, item.FieldRef.FieldPath)
		case item.ResourceFieldRef != nil:
			value, err = resourceValue(pod, nil, item.ResourceFieldRef)
		}
		if err != nil {
			return err
		}
		if err := w.write(item.Path, []byte(value), item.Mode, defaultMode); err != nil {
			return err
		}
	}
	return nil
}

// projected is what the ServiceAccount admission plugin adds as kube-api-access-*: a bound
// token, the cluster CA from kube-root-ca.crt and the namespace.
func (w *fileWriter) projected(ctx context.Context, src *refSource, pod *v1.Pod, p *v1.ProjectedVolumeSource) error {
	for _, s := range p.Sources {
		var err error
		switch {
		case s.ServiceAccountToken != nil:
			err = w.token(ctx, pod, s.ServiceAccountToken, p.DefaultMode)
		case s.ConfigMap != nil:
			err = w.configMap(ctx, src, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, p.DefaultMode)
		case s.Secret != nil:
			err = w.secret(ctx, src, s.Secret.Name, s.Secret.Items, s.Secret.Optional, p.DefaultMode)
		case s.DownwardAPI != nil:
			err = w.downwardAPI(pod, s.DownwardAPI.Items, p.DefaultMode)
		default:
			err = fmt.Errorf("unsupported projected source")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// token asks for a token bound to this pod, which NodeRestriction requires of a node's request
// and which stops working once the pod is gone.
func (w *fileWriter) token(ctx context.Context, pod *v1.Pod, p *v1.ServiceAccountTokenProjection, defaultMode *int32) error {
	req := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: p.ExpirationSeconds,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
			},
		},
	}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	out, err := w.pw.k.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for service account %s: %w", sa, err)
	}
	return w.write(p.Path, []byte(out.Status.Token), nil, defaultMode)
}
