// process-kubelet is a node agent for tests: it registers a Node with a real control plane,
// watches the pods bound to it and runs their containers as local processes, each in the pod's
// own network namespace and in mount, UTS and pid namespaces of its own, with a copy of its
// image as root.
//
//	process-kubelet --kubeconfig FILE --node-name NAME --images FILE --root DIR \
//	    --pod-network 10.210.N.0/24 --api-host IP --api-port PORT
//
// It logs one JSON object per line on stderr (log.go lists the events). Under --root, pods/
// holds each pod's volumes and container roots while it runs, and gone/ what it left behind
// (volumes, termination logs) once it is gone; logs/<ns>_<name>_<uid>/ keeps each container's
// output (<container>.log) and its hooks' (<container>.hooks.log).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

type kubelet struct {
	ctx      context.Context // cancelled when the kubelet itself is told to stop
	client   kubernetes.Interface
	nodeName string
	apiHost  string
	apiPort  int
	root     string
	self     string // this binary, as the containers' mount namespaces still see it
	images   *imageStore
	net      *podNetwork

	mu      sync.Mutex
	pods    map[types.UID]*podWorker
	gone    map[types.UID]bool // finished here; late informer events must not start them again
	workers sync.WaitGroup
}

func main() {
	// Hidden subcommands: the first steps of a container's process, already inside its namespaces.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "container-init":
			containerInit()
		case "container-exec":
			containerExec()
		}
	}

	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig with the node's client certificate")
		nodeName   = flag.String("node-name", "", "name of the Node object")
		imagesFile = flag.String("images", "", "JSON map of image reference to {root, config}")
		root       = flag.String("root", "", "directory for the pods' files")
		podNet     = flag.String("pod-network", "", "this node's pod network, 10.210.N.0/24")
		apiHost    = flag.String("api-host", "", "API address reachable from pods; also the node's InternalIP")
		apiPort    = flag.Int("api-port", 6443, "API port reachable from pods")
	)
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" || *imagesFile == "" || *root == "" || *podNet == "" || *apiHost == "" {
		fmt.Fprintln(os.Stderr, "usage: process-kubelet --kubeconfig FILE --node-name NAME --images FILE --root DIR --pod-network 10.210.N.0/24 --api-host IP --api-port PORT")
		os.Exit(2)
	}
	if err := run(*kubeconfig, *nodeName, *imagesFile, *root, *podNet, *apiHost, *apiPort); err != nil {
		logError("", "", "startup", err)
		os.Exit(1)
	}
}

func run(kubeconfig, nodeName, imagesFile, root, podNet, apiHost string, apiPort int) error {
	net, err := newPodNetwork(podNet)
	if err != nil {
		return err
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "pods"), 0o755); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// Status writes come in bursts while pods start and stop; client-go's default 5 QPS would
	// delay readiness flips by seconds and skew what the tests measure.
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := &kubelet{
		ctx:      ctx,
		client:   client,
		nodeName: nodeName,
		apiHost:  apiHost,
		apiPort:  apiPort,
		root:     root,
		// /proc/<pid>/exe still works after the file is replaced by a rebuild, and every mount
		// namespace made here keeps the host's /proc.
		self:   fmt.Sprintf("/proc/%d/exe", os.Getpid()),
		images: &imageStore{path: imagesFile},
		net:    net,
		pods:   map[types.UID]*podWorker{},
		gone:   map[types.UID]bool{},
	}
	// Namespaces and links left by a run that did not stop cleanly would block their slots.
	net.sweep()

	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		logEvent("kubelet.stopping", "", "", "signal", sig.String())
		stop()
	}()

	if err := k.registerNode(stopping); err != nil {
		if stopping.Err() != nil {
			return nil
		}
		return err
	}
	go k.heartbeat(ctx)

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "spec.nodeName=" + nodeName
		}))
	podInformer := factory.Core().V1().Pods().Informer()
	podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(obj) },
		DeleteFunc: func(obj any) { k.podDeleted(obj) },
	})
	factory.Start(ctx.Done())

	<-stopping.Done()
	k.mu.Lock()
	cancel() // under the lock: no worker starts after this
	k.mu.Unlock()
	factory.Shutdown()
	waited := make(chan struct{})
	go func() { k.workers.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		logError("", "", "shutdown", fmt.Errorf("pod workers still busy after 20s"))
	}
	net.sweep()
	logEvent("kubelet.stopped", "", "")
	return nil
}

func (k *kubelet) podChanged(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.pods[pod.UID]
	if w == nil {
		if k.ctx.Err() != nil || k.gone[pod.UID] {
			k.mu.Unlock()
			return
		}
		w = newPodWorker(k, pod)
		k.pods[pod.UID] = w
		k.workers.Add(1)
		go w.run()
	}
	k.mu.Unlock()
	w.update(pod)
}

func (k *kubelet) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.pods[pod.UID]
	delete(k.gone, pod.UID)
	k.mu.Unlock()
	if w != nil {
		w.objectDeleted()
	}
}

func (k *kubelet) workerDone(w *podWorker) {
	k.mu.Lock()
	delete(k.pods, w.uid)
	if !w.isRemoved() {
		k.gone[w.uid] = true
	}
	k.mu.Unlock()
	k.workers.Done()
}
