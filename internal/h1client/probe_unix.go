//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1client

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// alive reports whether an idle connection can carry a request: the server
// has sent nothing since the last response, neither an EOF (its keep-alive
// timeout closed it) nor stray bytes (such as a 408). A peek that must not
// block answers without consuming anything.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true // a custom dialer's conn we cannot look into: the retry rules cover it
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	var perr error
	if err := rc.Read(func(fd uintptr) bool {
		_, _, perr = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true // never wait for readability: EAGAIN is the answer wanted
	}); err != nil {
		return false
	}
	return perr == unix.EAGAIN
}
