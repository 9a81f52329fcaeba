// sarama against samsa (tests/compat/test_sarama.py). One subcommand per case;
// each prints one JSON line on stdout with what it did, and sarama's own log
// goes to stderr. VERSION is "default" (sarama's Config default, its oldest
// protocol) or a Kafka version such as "2.8.0".
//
//	sarama-compat produce BROKERS VERSION TOPIC N
//	sarama-compat group   BROKERS VERSION TOPIC GROUP PARTITIONS N
//	sarama-compat create  BROKERS VERSION NEWTOPIC PARTITIONS REPLICATION
//	sarama-compat list    BROKERS VERSION
//	sarama-compat consume BROKERS VERSION TOPIC COUNTS   (COUNTS: messages per partition, "n0,n1,...")
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sarama-compat: "+format+"\n", args...)
	os.Exit(1)
}

func emit(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		die("json: %v", err)
	}
	fmt.Println(string(b))
}

func config(version string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "samsa-compat-sarama"
	if version != "default" {
		v, err := sarama.ParseKafkaVersion(version)
		if err != nil {
			die("version %q: %v", version, err)
		}
		c.Version = v
	}
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 500 * time.Millisecond
	return c
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("not a number: %q", s)
	}
	return n
}

type sent struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// produceN sends n keyed messages with a SyncProducer (acks=all, the default
// hash partitioner) and returns where each one went.
func produceN(brokers []string, conf *sarama.Config, topic, prefix string, n int) []sent {
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Producer.Retry.Max = 10
	p, err := sarama.NewSyncProducer(brokers, conf)
	if err != nil {
		die("NewSyncProducer: %v", err)
	}
	out := make([]sent, 0, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s-k%d", prefix, i)
		v := fmt.Sprintf("%s-v%d-%s", prefix, i, strings.Repeat("x", i%7))
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic,
			Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(v)})
		if err != nil {
			die("SendMessage %d: %v", i, err)
		}
		out = append(out, sent{k, v, part, off})
	}
	if err := p.Close(); err != nil {
		die("producer Close: %v", err)
	}
	return out
}

func cmdProduce(args []string) {
	if len(args) != 4 {
		die("usage: produce BROKERS VERSION TOPIC N")
	}
	conf := config(args[1])
	msgs := produceN(strings.Split(args[0], ","), conf, args[2], "p", atoi(args[3]))
	emit(map[string]interface{}{"version": conf.Version.String(), "sent": msgs})
}

// ---- consumer group --------------------------------------------------------------

type got struct {
	Member    int    `json:"member"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type state struct {
	mu     sync.Mutex
	gen    [2]int32
	claims [2][]int32
	msgs   []got
	seen   map[string]bool
	dups   int
}

type handler struct {
	st     *state
	member int
	topic  string
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.st.mu.Lock()
	h.st.gen[h.member] = s.GenerationID()
	h.st.claims[h.member] = append([]int32(nil), s.Claims()[h.topic]...)
	h.st.mu.Unlock()
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.st.mu.Lock()
	h.st.claims[h.member] = nil
	h.st.mu.Unlock()
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.st.mu.Lock()
		id := fmt.Sprintf("%d/%d", m.Partition, m.Offset)
		if h.st.seen[id] {
			h.st.dups++
		}
		h.st.seen[id] = true
		h.st.msgs = append(h.st.msgs, got{h.member, string(m.Key), string(m.Value), m.Partition, m.Offset})
		h.st.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

// stable: both members hold partitions in one generation and together all of them.
func (st *state) stable(partitions int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gen[0] != st.gen[1] || len(st.claims[0]) == 0 || len(st.claims[1]) == 0 {
		return false
	}
	all := map[int32]bool{}
	for _, cl := range st.claims {
		for _, p := range cl {
			all[p] = true
		}
	}
	return len(all) == partitions
}

func cmdGroup(args []string) {
	if len(args) != 6 {
		die("usage: group BROKERS VERSION TOPIC GROUP PARTITIONS N")
	}
	brokers := strings.Split(args[0], ",")
	version, topic, group := args[1], args[2], args[3]
	partitions, n := atoi(args[4]), atoi(args[5])
	st := &state{seen: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	groups := make([]sarama.ConsumerGroup, 2)
	for i := 0; i < 2; i++ {
		conf := config(version)
		conf.Consumer.Offsets.Initial = sarama.OffsetOldest
		conf.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
		conf.Consumer.Return.Errors = true
		conf.Consumer.MaxWaitTime = 100 * time.Millisecond
		cg, err := sarama.NewConsumerGroup(brokers, group, conf)
		if err != nil {
			die("NewConsumerGroup %d: %v", i, err)
		}
		groups[i] = cg
		go func(i int) {
			for err := range cg.Errors() {
				log.Printf("member %d error: %v", i, err)
			}
		}(i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h := &handler{st: st, member: i, topic: topic}
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, h); err != nil {
					log.Printf("member %d Consume: %v", i, err)
					time.Sleep(200 * time.Millisecond)
				}
			}
		}(i)
	}
	wait := func(what string, limit time.Duration, ok func() bool) {
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				die("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait("both members to hold partitions", 90*time.Second, func() bool { return st.stable(partitions) })
	st.mu.Lock()
	gen := st.gen[0]
	claims := [2][]int32{st.claims[0], st.claims[1]}
	st.mu.Unlock()

	msgs := produceN(brokers, config(version), topic, "g", n)

	wait("every message", 90*time.Second, func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.seen) >= n
	})
	time.Sleep(1 * time.Second) // room for a duplicate to show up
	cancel()
	wg.Wait()
	for i, cg := range groups {
		if err := cg.Close(); err != nil { // flushes the marked offsets
			die("member %d Close: %v", i, err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sort.Slice(st.msgs, func(a, b int) bool {
		if st.msgs[a].Partition != st.msgs[b].Partition {
			return st.msgs[a].Partition < st.msgs[b].Partition
		}
		return st.msgs[a].Offset < st.msgs[b].Offset
	})
	emit(map[string]interface{}{"version": config(version).Version.String(), "generation": gen,
		"claims": claims, "final_generation": st.gen, "sent": msgs, "got": st.msgs, "duplicates": st.dups})
}

// ---- partition consumer ------------------------------------------------------------

// consume: a plain Consumer reads each partition i from the oldest offset until
// it has COUNTS[i] messages.
func cmdConsume(args []string) {
	if len(args) != 4 {
		die("usage: consume BROKERS VERSION TOPIC COUNTS")
	}
	conf := config(args[1])
	conf.Consumer.Return.Errors = true
	conf.Consumer.MaxWaitTime = 100 * time.Millisecond
	topic := args[2]
	c, err := sarama.NewConsumer(strings.Split(args[0], ","), conf)
	if err != nil {
		die("NewConsumer: %v", err)
	}
	var msgs []got
	for i, s := range strings.Split(args[3], ",") {
		want := atoi(s)
		if want == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, int32(i), sarama.OffsetOldest)
		if err != nil {
			die("ConsumePartition %d: %v", i, err)
		}
		timeout := time.After(60 * time.Second)
		for n := 0; n < want; {
			select {
			case m := <-pc.Messages():
				msgs = append(msgs, got{0, string(m.Key), string(m.Value), m.Partition, m.Offset})
				n++
			case e := <-pc.Errors():
				die("partition %d: %v", i, e)
			case <-timeout:
				die("partition %d: timed out with %d of %d messages", i, n, want)
			}
		}
		if err := pc.Close(); err != nil {
			die("partition %d Close: %v", i, err)
		}
	}
	if err := c.Close(); err != nil {
		die("consumer Close: %v", err)
	}
	emit(map[string]interface{}{"version": conf.Version.String(), "got": msgs})
}

// ---- ClusterAdmin ------------------------------------------------------------------

func listTopics(a sarama.ClusterAdmin) (map[string]int32, string) {
	t, err := a.ListTopics()
	if err != nil {
		return nil, err.Error()
	}
	out := map[string]int32{}
	for name, d := range t {
		out[name] = d.NumPartitions
	}
	return out, ""
}

func newAdmin(brokers, version string) (sarama.ClusterAdmin, *sarama.Config) {
	conf := config(version)
	a, err := sarama.NewClusterAdmin(strings.Split(brokers, ","), conf)
	if err != nil {
		die("NewClusterAdmin: %v", err)
	}
	return a, conf
}

func closeAdmin(a sarama.ClusterAdmin) {
	if err := a.Close(); err != nil {
		die("admin Close: %v", err)
	}
}

// create: CreateTopic, then the same name again (which must be refused).
func cmdCreate(args []string) {
	if len(args) != 5 {
		die("usage: create BROKERS VERSION NEWTOPIC PARTITIONS REPLICATION")
	}
	a, conf := newAdmin(args[0], args[1])
	createErr, againErr := "", ""
	if err := a.CreateTopic(args[2], &sarama.TopicDetail{NumPartitions: int32(atoi(args[3])),
		ReplicationFactor: int16(atoi(args[4]))}, false); err != nil {
		createErr = err.Error()
	}
	if err := a.CreateTopic(args[2], &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		againErr = err.Error()
	}
	closeAdmin(a)
	emit(map[string]interface{}{"version": conf.Version.String(), "create_error": createErr, "again_error": againErr})
}

// list: ListTopics (sarama sends Metadata, then DescribeConfigs for every topic).
func cmdList(args []string) {
	if len(args) != 2 {
		die("usage: list BROKERS VERSION")
	}
	a, conf := newAdmin(args[0], args[1])
	topics, listErr := listTopics(a)
	closeAdmin(a)
	emit(map[string]interface{}{"version": conf.Version.String(), "topics": topics, "error": listErr})
}

func main() {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	log.SetOutput(os.Stderr)
	if len(os.Args) < 2 {
		die("usage: sarama-compat produce|group|create|list|consume ...")
	}
	switch os.Args[1] {
	case "produce":
		cmdProduce(os.Args[2:])
	case "group":
		cmdGroup(os.Args[2:])
	case "create":
		cmdCreate(os.Args[2:])
	case "list":
		cmdList(os.Args[2:])
	case "consume":
		cmdConsume(os.Args[2:])
	default:
		die("unknown command %q", os.Args[1])
	}
}
