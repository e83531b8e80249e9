// Package hatest holds the fault tests of the high-availability profile
// (test-network/ha.sh): each kills a real process or cuts a real link on
// the network of separate hosts that ha.sh makes, and ends with a count of
// what was acknowledged and what is there. They run with the build tag ha
// (make test-ha, part of make test), against the profile that ha.sh up
// started; ha.sh's own commands (stop, start, cut, heal, leader, height)
// do the damage.
package hatest
