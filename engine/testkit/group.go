package testkit

import "github.com/segmentio/kafka-go"

// GroupAssignment counts, in a described consumer group, the members that
// hold at least one partition (busy) and the partitions assigned in all:
// a group has settled on n members and p partitions when it is Stable
// with n members, n busy and p assigned.
func GroupAssignment(g kafka.DescribeGroupsResponseGroup) (busy, assigned int) {
	for _, m := range g.Members {
		n := 0
		for _, topic := range m.MemberAssignments.Topics {
			n += len(topic.Partitions)
		}
		assigned += n
		if n > 0 {
			busy++
		}
	}
	return busy, assigned
}
