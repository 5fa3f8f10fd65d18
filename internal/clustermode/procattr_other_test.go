//go:build !linux

package clustermode

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
