package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// envVar keeps the order variables are defined in, so a container's environment reads like
// its spec.
type envVar struct{ name, value string }

// serviceEnv is what the kubelet injects for the "kubernetes" Service in every namespace,
// pointing at the API address that is reachable from the pods.
func (k *kubelet) serviceEnv() []envVar {
	h, p := k.apiHost, strconv.Itoa(k.apiPort)
	return []envVar{
		{"KUBERNETES_SERVICE_HOST", h},
		{"KUBERNETES_SERVICE_PORT", p},
		{"KUBERNETES_SERVICE_PORT_HTTPS", p},
		{"KUBERNETES_PORT", "tcp://" + h + ":" + p},
		{"KUBERNETES_PORT_" + p + "_TCP", "tcp://" + h + ":" + p},
		{"KUBERNETES_PORT_" + p + "_TCP_PROTO", "tcp"},
		{"KUBERNETES_PORT_" + p + "_TCP_PORT", p},
		{"KUBERNETES_PORT_" + p + "_TCP_ADDR", h},
	}
}

// containerEnv follows the kubelet's makeEnvironmentVariables: envFrom, then env with $(VAR)
// expanded from what is defined so far and the service variables; the service variables fill
// in what the container does not set. The image's Env is merged under it all by the runtime,
// in containerConfig. The returned map is what $(VAR) in command and args expands from.
func (pw *podWorker) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container) ([]envVar, map[string]string, error) {
	service := pw.k.serviceEnv()
	serviceMap := map[string]string{}
	for _, e := range service {
		serviceMap[e.name] = e.value
	}
	var list []envVar
	defined := map[string]string{}
	set := func(name, value string) {
		if _, ok := defined[name]; ok {
			for i := range list {
				if list[i].name == name {
					list[i].value = value
				}
			}
		} else {
			list = append(list, envVar{name, value})
		}
		defined[name] = value
	}
	src := newRefSource(pw.k, pod.Namespace)

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := src.configMap(ctx, from.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && ptrTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, nil, err
			}
			for _, key := range sortedKeys(cm.Data) {
				set(from.Prefix+key, cm.Data[key])
			}
		case from.SecretRef != nil:
			s, err := src.secret(ctx, from.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && ptrTrue(from.SecretRef.Optional) {
					continue
				}
				return nil, nil, err
			}
			keys := make([]string, 0, len(s.Data))
			for key := range s.Data {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			for _, key := range keys {
				set(from.Prefix+key, string(s.Data[key]))
			}
		}
	}

	lookup := func(name string) (string, bool) {
		if v, ok := defined[name]; ok {
			return v, true
		}
		v, ok := serviceMap[name]
		return v, ok
	}
	for _, e := range c.Env {
		value := e.Value
		if value != "" {
			value = expand(value, lookup)
		} else if from := e.ValueFrom; from != nil {
			var err error
			switch {
			case from.FieldRef != nil:
				value, err = pw.fieldValue(pod, from.FieldRef.FieldPath)
			case from.ResourceFieldRef != nil:
				value, err = resourceValue(pod, c, from.ResourceFieldRef)
			case from.ConfigMapKeyRef != nil:
				ref := from.ConfigMapKeyRef
				var cm *v1.ConfigMap
				if cm, err = src.configMap(ctx, ref.Name); err == nil {
					var ok bool
					if value, ok = cm.Data[ref.Key]; !ok {
						if ptrTrue(ref.Optional) {
							continue
						}
						err = fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
					}
				} else if apierrors.IsNotFound(err) && ptrTrue(ref.Optional) {
					continue
				}
			case from.SecretKeyRef != nil:
				ref := from.SecretKeyRef
				var s *v1.Secret
				if s, err = src.secret(ctx, ref.Name); err == nil {
					data, ok := s.Data[ref.Key]
					if !ok {
						if ptrTrue(ref.Optional) {
							continue
						}
						err = fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
					}
					value = string(data)
				} else if apierrors.IsNotFound(err) && ptrTrue(ref.Optional) {
					continue
				}
			}
			if err != nil {
				return nil, nil, err
			}
		}
		set(e.Name, value)
	}

	for _, e := range service {
		if _, ok := defined[e.name]; !ok {
			set(e.name, e.value)
		}
	}
	return list, defined, nil
}

// fieldValue answers a downward API fieldRef, in env and in downwardAPI volumes alike.
func (pw *podWorker) fieldValue(pod *v1.Pod, path string) (string, error) {
	ip := pw.podIP()
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return pw.k.apiHost, nil
	case "status.podIP", "status.podIPs":
		return ip, nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[path[len(prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// formatMap is the downward API's rendering of labels and annotations: sorted key="value" lines.
func formatMap(m map[string]string) string {
	var lines []string
	for _, key := range sortedKeys(m) {
		lines = append(lines, fmt.Sprintf("%s=%q", key, m[key]))
	}
	return strings.Join(lines, "\n")
}

// resourceValue answers a resourceFieldRef as the kubelet does: the container's value, its
// limit defaulting to the node's allocatable, rounded up to a whole number of divisors.
func resourceValue(pod *v1.Pod, c *v1.Container, ref *v1.ResourceFieldSelector) (string, error) {
	if ref.ContainerName != "" {
		c = findContainer(pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef %q needs a containerName", ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	kind, name, _ := strings.Cut(ref.Resource, ".")
	res := v1.ResourceName(name)
	switch kind {
	case "limits":
		var ok bool
		if q, ok = c.Resources.Limits[res]; !ok {
			q = nodeCapacity[res]
		}
	case "requests":
		q = c.Resources.Requests[res]
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef %q", ref.Resource)
	}
	if res == v1.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// expand replaces $(VAR) with its value where VAR is defined, leaves it as written where not,
// and turns $$ into $, as Kubernetes does in env values, command and args.
func expand(in string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := in[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// refSource fetches the ConfigMaps and Secrets a pod refers to, each once per use. The Node
// authorizer lets a node read exactly these.
type refSource struct {
	k          *kubelet
	ns         string
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
}

func newRefSource(k *kubelet, ns string) *refSource {
	return &refSource{k: k, ns: ns, configMaps: map[string]*v1.ConfigMap{}, secrets: map[string]*v1.Secret{}}
}

func (s *refSource) configMap(ctx context.Context, name string) (*v1.ConfigMap, error) {
	if cm, ok := s.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := s.k.client.CoreV1().ConfigMaps(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	s.configMaps[name] = cm
	return cm, nil
}

func (s *refSource) secret(ctx context.Context, name string) (*v1.Secret, error) {
	if sec, ok := s.secrets[name]; ok {
		return sec, nil
	}
	sec, err := s.k.client.CoreV1().Secrets(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	s.secrets[name] = sec
	return sec, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

func ptrTrue(b *bool) bool { return b != nil && *b }
