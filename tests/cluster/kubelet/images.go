package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
)

// imageConfig is the part of an OCI image config the kubelet and runtime act on.
type imageConfig struct {
	User       string   `json:"User"`
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
}

// image is a local directory standing for an image's unpacked layers.
type image struct {
	Ref    string      `json:"-"`
	ID     string      `json:"-"`
	Root   string      `json:"root"`
	Config imageConfig `json:"config"`
}

// imageStore reads the images file at every pull, so a test can add an image while the
// kubelet runs and a pod waiting in ImagePullBackOff then starts.
type imageStore struct {
	path string
}

type imageMissingError struct{ ref string }

func (e imageMissingError) Error() string {
	return fmt.Sprintf("failed to pull image %q: not in the images file", e.ref)
}

func (s *imageStore) pull(ref string) (*image, error) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	var all map[string]*image
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("%s: %v", s.path, err)
	}
	img := all[ref]
	if img == nil {
		return nil, imageMissingError{ref}
	}
	if st, err := os.Stat(img.Root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("image %q: root %q is not a directory", ref, img.Root)
	}
	img.Ref = ref
	config, _ := json.Marshal(img.Config)
	sum := sha256.Sum256(append([]byte(img.Root+"\x00"), config...))
	img.ID = fmt.Sprintf("sha256:%x", sum)
	return img, nil
}
